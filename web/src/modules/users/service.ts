import type { Connection } from '../db';
import type { Invalidation } from '../invalidation';
import { isDuplicateKeyError, modelOn } from '../db';
import { newId } from '../../lib/ids';
import { userSchema, type UserDoc, type UserLimits, type UserStatus } from './model';

export interface NewUser {
  email?: string | null;
  name?: string | null;
  clerkId?: string | null;
  limits?: Partial<UserLimits>;
}

/** What Clerk tells us about a person, from a webhook or a session. */
export interface ClerkProfile {
  clerkId: string;
  email: string | null;
  name: string | null;
  /** When Clerk last changed this profile; null when unknown (a session without profile claims). */
  at: Date | null;
}

export type UserService = ReturnType<typeof createUserService>;

export function createUserService(db: Connection, defaults: UserLimits, invalidation: Pick<Invalidation, 'publish'>) {
  const User = modelOn(db, 'User', userSchema);

  return {
    async create(input: NewUser): Promise<UserDoc> {
      const doc = await User.create({
        _id: newId('usr'),
        email: input.email ?? null,
        name: input.name ?? null,
        ...(input.clerkId ? { clerkId: input.clerkId } : {}),
        status: 'active',
        limits: { ...defaults, ...input.limits },
      });
      return doc.toObject();
    },

    /**
     * Creates the user for a Clerk id, or brings its profile up to date. Idempotent and safe when run twice at
     * once: the unique index on `clerkId` lets exactly one insert win. Deleted users stay deleted.
     */
    async upsertFromClerk(p: ClerkProfile): Promise<{ user: UserDoc; created: boolean }> {
      const existing = await User.findOne({ clerkId: p.clerkId }).lean<UserDoc>();
      if (!existing) {
        try {
          const doc = await User.create({
            _id: newId('usr'),
            clerkId: p.clerkId,
            email: p.email,
            name: p.name,
            status: 'active',
            limits: defaults,
            profileAt: p.at,
          });
          return { user: doc.toObject(), created: true };
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err;
          return this.upsertFromClerk(p);
        }
      }
      const newer = p.at && (!existing.profileAt || p.at > existing.profileAt);
      if (existing.status === 'deleted' || !newer) return { user: existing, created: false };
      const user = await User.findOneAndUpdate(
        { _id: existing._id, status: { $ne: 'deleted' } },
        { $set: { email: p.email, name: p.name, profileAt: p.at } },
        { returnDocument: 'after' },
      ).lean<UserDoc>();
      return { user: user ?? existing, created: false };
    },

    /** Marks a Clerk user deleted, creating a tombstone if the deletion arrives before the creation. */
    async markDeletedByClerkId(clerkId: string, at: Date): Promise<UserDoc> {
      const { user } = await this.upsertFromClerk({ clerkId, email: null, name: null, at: null });
      const deleted = await User.findByIdAndUpdate(user._id, { $set: { status: 'deleted', deletedAt: at } }, { returnDocument: 'after' }).lean<UserDoc>();
      await invalidation.publish('user', user._id);
      return deleted ?? user;
    },

    async findByClerkId(clerkId: string): Promise<UserDoc | null> {
      return User.findOne({ clerkId }).lean<UserDoc>();
    },

    async findById(id: string): Promise<UserDoc | null> {
      return User.findById(id).lean<UserDoc>();
    },

    /** Accepts a `usr_` id or an email, as an operator would type either. */
    async findByIdOrEmail(ref: string): Promise<UserDoc | null> {
      return ref.startsWith('usr_') ? User.findById(ref).lean<UserDoc>() : User.findOne({ email: ref }).lean<UserDoc>();
    },

    async setStatus(id: string, status: UserStatus): Promise<UserDoc | null> {
      const user = await User.findByIdAndUpdate(id, { $set: { status } }, { returnDocument: 'after' }).lean<UserDoc>();
      await invalidation.publish('user', id);
      return user;
    },

    async setLimits(id: string, limits: Partial<UserLimits>): Promise<UserDoc | null> {
      const $set = Object.fromEntries(Object.entries(limits).map(([k, v]) => [`limits.${k}`, v]));
      const user = await User.findByIdAndUpdate(id, { $set }, { returnDocument: 'after' }).lean<UserDoc>();
      await invalidation.publish('user', id);
      return user;
    },
  };
}
