import { Schema } from 'mongoose';

/** Who did what to whom, from what to what, when, and why. Insert-only. */
export interface AuditDoc {
  _id: string;
  at: Date;
  actor: string;
  action: 'user.suspend' | 'user.unsuspend' | 'user.limits' | 'user.credits' | 'key.revoke';
  target: string;
  reason: string;
  before: unknown;
  after: unknown;
}

export const auditSchema = new Schema<AuditDoc>(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true, index: true },
    actor: { type: String, required: true },
    action: { type: String, required: true },
    target: { type: String, required: true, index: true },
    reason: { type: String, required: true },
    before: { type: Schema.Types.Mixed },
    after: { type: Schema.Types.Mixed },
  },
  { collection: 'audit_log', versionKey: false },
);
