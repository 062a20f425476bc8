'use client';

import { useState } from 'react';
import { issuedKeySchema, keySummarySchema, revealedSecretSchema, apiErrorSchema, type KeySummary } from '@glm-gateway/shared';
import { z } from 'zod';

type Shown = { keyId: string; secret: string };

async function call<T>(url: string, init: RequestInit, schema: z.ZodType<T>): Promise<T> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json' } });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) throw new Error(apiErrorSchema.safeParse(body).data?.error.message ?? `Request failed (${res.status})`);
  return schema.parse(body);
}

const oneKey = z.object({ key: keySummarySchema });
const date = (iso: string | null) => (iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC' : 'never');

/** Keys: create, rename, rotate, revoke; a secret is shown once, with a copy button. */
export function KeysPanel({ initialKeys }: { initialKeys: KeySummary[] }) {
  const [keys, setKeys] = useState(initialKeys);
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [copied, setCopied] = useState(false);

  const run = async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  // Answers to single-key actions do not carry last use; keep what the list showed.
  const replace = (key: KeySummary) => setKeys((ks) => ks.map((k) => (k.id === key.id ? { ...key, lastUsedAt: key.lastUsedAt ?? k.lastUsedAt } : k)));
  const show = (keyId: string, secret: string) => {
    setCopied(false);
    setShown({ keyId, secret });
  };

  const create = () =>
    run(async () => {
      const { key, secret } = await call('/api/keys', { method: 'POST', body: JSON.stringify({ name: name || 'New key' }) }, issuedKeySchema);
      setKeys((ks) => [key, ...ks]);
      setName('');
      show(key.id, secret);
    });
  const rename = (k: KeySummary) =>
    run(async () => {
      const next = window.prompt('New name for this key', k.name);
      if (!next) return;
      replace((await call(`/api/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ name: next }) }, oneKey)).key);
    });
  const revoke = (k: KeySummary) =>
    run(async () => {
      if (!window.confirm(`Revoke "${k.name}"? Anything using it stops working at once.`)) return;
      replace((await call(`/api/keys/${k.id}`, { method: 'DELETE' }, oneKey)).key);
    });
  const rotate = (k: KeySummary) =>
    run(async () => {
      if (!window.confirm(`Rotate "${k.name}"? The old secret stops working at once.`)) return;
      const { key, secret } = await call(`/api/keys/${k.id}/rotate`, { method: 'POST' }, issuedKeySchema);
      setKeys((ks) => [key, ...ks.map((x) => (x.id === k.id ? { ...x, status: 'revoked' as const } : x))]);
      show(key.id, secret);
    });
  const reveal = (k: KeySummary) =>
    run(async () => {
      const { secret } = await call(`/api/keys/${k.id}/reveal`, { method: 'POST' }, revealedSecretSchema);
      replace({ ...k, secretPending: false });
      show(k.id, secret);
    });

  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {shown ? (
        <div className="secret" role="status">
          <p>Copy this secret now. It is shown once and cannot be shown again.</p>
          <code data-testid="new-secret">{shown.secret}</code>
          <button
            type="button"
            onClick={() => void navigator.clipboard?.writeText(shown.secret).then(() => setCopied(true), () => setCopied(false))}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
          <button type="button" className="link" onClick={() => setShown(null)}>
            Done
          </button>
        </div>
      ) : null}
      {error ? <p role="alert" className="error">{error}</p> : null}
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <input aria-label="New key name" placeholder="Key name, e.g. laptop" value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />
        <button type="submit">Create key</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Status</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.start}…</code>
              </td>
              <td>{date(k.createdAt)}</td>
              <td>{date(k.lastUsedAt)}</td>
              <td>
                <span className={`status ${k.status}`}>{k.status}</span>
              </td>
              <td>
                {k.status === 'active' ? (
                  <div className="actions">
                    {k.secretPending ? (
                      <button type="button" onClick={() => void reveal(k)}>
                        Reveal secret
                      </button>
                    ) : null}
                    <button type="button" onClick={() => void rename(k)}>Rename</button>
                    <button type="button" onClick={() => void rotate(k)}>Rotate</button>
                    <button type="button" className="danger" onClick={() => void revoke(k)}>
                      Revoke
                    </button>
                  </div>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
