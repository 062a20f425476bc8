import { Schema } from 'mongoose';

/**
 * One slice of a shared budget (a key's minute, a user's day), claimed by one instance. Slices are claimed by
 * inserting the next index under a unique `_id`, never by `$inc` on a shared counter: FerretDB 1.x applies
 * concurrent updates to one document without isolation (measured: 40 concurrent `$inc` left 8), while a
 * unique insert is decided by the database alone, on FerretDB and MongoDB alike.
 */
export interface SliceDoc {
  /** `${budget}#${index}` */
  _id: string;
  budget: string;
  index: number;
  /** Units this slice holds; only the instance that claimed it ever lowers it (to return what it did not use). */
  grant: number;
  /** FerretDB 1.x has no TTL indexes: a sweep deletes rows past this time. */
  expiresAt: Date;
}

export const sliceSchema = new Schema<SliceDoc>(
  {
    _id: { type: String, required: true },
    budget: { type: String, required: true, index: true },
    index: { type: Number, required: true },
    grant: { type: Number, required: true },
    expiresAt: { type: Date, required: true, index: true },
  },
  { collection: 'limit_slices', versionKey: false },
);
