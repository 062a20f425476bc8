'use client';

import { useState } from 'react';
import { apiErrorSchema, connectApprovedSchema } from '@glm-gateway/shared';

export function ApproveButtons({ requestId }: { requestId: string }) {
  const [state, setState] = useState<'idle' | 'busy' | 'done' | 'cancelled'>('idle');
  const [error, setError] = useState<string | null>(null);

  async function approve() {
    setState('busy');
    setError(null);
    const res = await fetch(`/api/extension/connect-requests/${encodeURIComponent(requestId)}/approve`, { method: 'POST' });
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      setState('idle');
      setError(apiErrorSchema.safeParse(body).data?.error.message ?? `Approval failed (${res.status}).`);
      return;
    }
    setState('done');
    window.location.href = connectApprovedSchema.parse(body).redirectTo;
  }

  if (state === 'cancelled') return <p role="status">Cancelled. You can close this tab.</p>;
  if (state === 'done') return <p role="status">Approved. Return to VS Code; you can close this tab.</p>;
  return (
    <div className="row">
      <button type="submit" disabled={state === 'busy'} onClick={() => void approve()}>
        Approve
      </button>
      <button type="button" onClick={() => setState('cancelled')}>
        Cancel
      </button>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </div>
  );
}
