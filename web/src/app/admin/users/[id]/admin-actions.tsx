'use client';

import { useState } from 'react';
import { apiErrorSchema, type KeySummary } from '@glm-gateway/shared';

/** Suspend, change limits, grant credits, revoke keys: every action asks for a reason, which is audited. */
export function AdminActions(props: { userId: string; status: string; rpm: number; dailyTokens: number; keys: KeySummary[] }) {
  const [message, setMessage] = useState<string | null>(null);

  async function act(url: string, method: string, body: Record<string, unknown>) {
    const reason = window.prompt('Reason (kept in the audit log)');
    if (!reason) return;
    const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, reason }) });
    if (res.ok) window.location.reload();
    else setMessage(apiErrorSchema.safeParse(await res.json().catch(() => null)).data?.error.message ?? `Failed (${res.status})`);
  }
  const user = `/api/admin/users/${props.userId}`;
  const askNumber = (label: string, current: number) => {
    const v = Number(window.prompt(label, String(current)));
    return Number.isInteger(v) && v > 0 ? v : null;
  };

  return (
    <div>
      <div className="actions">
        {props.status === 'suspended' ? (
          <button type="button" onClick={() => void act(user, 'PATCH', { status: 'active' })}>Unsuspend</button>
        ) : (
          <button type="button" className="danger" onClick={() => void act(user, 'PATCH', { status: 'suspended' })}>Suspend</button>
        )}
        <button type="button" onClick={() => { const rpm = askNumber('Requests per minute per key', props.rpm); if (rpm) void act(user, 'PATCH', { rpm }); }}>Change RPM</button>
        <button type="button" onClick={() => { const dailyTokens = askNumber('Tokens per day', props.dailyTokens); if (dailyTokens) void act(user, 'PATCH', { dailyTokens }); }}>Change daily tokens</button>
        <button type="button" onClick={() => { const tokens = askNumber('Extra tokens to grant', 100_000); if (tokens) void act(`${user}/credits`, 'POST', { tokens }); }}>Grant credits</button>
      </div>
      {message ? <p role="alert" className="error">{message}</p> : null}
      <h3>Keys</h3>
      <table>
        <thead>
          <tr><th>Name</th><th>Key</th><th>Last used</th><th>Status</th><th aria-label="Actions" /></tr>
        </thead>
        <tbody>
          {props.keys.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td><code>{k.start}…</code></td>
              <td>{k.lastUsedAt ? k.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never'}</td>
              <td><span className={`status ${k.status}`}>{k.status}</span></td>
              <td>{k.status === 'active' ? <button type="button" className="danger" onClick={() => void act(`/api/admin/keys/${k.id}`, 'DELETE', {})}>Revoke</button> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
