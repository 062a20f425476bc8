import { Schema } from 'mongoose';

/** A VS Code sign-in in progress: registered by the extension, approved on the website, exchanged once. */
export interface ConnectRequestDoc {
  _id: string;
  redirectUri: string;
  state: string;
  codeChallenge: string;
  deviceName: string;
  expiresAt: Date;
  approvedBy: string | null;
  /** SHA-256 of the one-time authorization code; the code itself is never stored. */
  codeHash: string | null;
  codeExpiresAt: Date | null;
}

export const connectRequestSchema = new Schema<ConnectRequestDoc>(
  {
    _id: { type: String, required: true },
    redirectUri: { type: String, required: true },
    state: { type: String, required: true },
    codeChallenge: { type: String, required: true },
    deviceName: { type: String, required: true },
    expiresAt: { type: Date, required: true, index: true },
    approvedBy: { type: String, default: null },
    codeHash: { type: String, default: null, index: true },
    codeExpiresAt: { type: Date, default: null },
  },
  { collection: 'extension_connect_requests', versionKey: false },
);

/**
 * One row per code ever exchanged, keyed by its hash: the unique insert is what makes a code single-use, even
 * when two exchanges race (FerretDB 1.x does not isolate concurrent updates of one document).
 */
export interface SpentCodeDoc {
  _id: string;
  at: Date;
}

export const spentCodeSchema = new Schema<SpentCodeDoc>(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { collection: 'extension_spent_codes', versionKey: false },
);
