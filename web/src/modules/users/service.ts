import type { Connection } from '../db';
import type { Invalidation } from '../invalidation';
import { modelOn } from '../db';
import { newId } from '../../lib/ids';
import { userSchema, type UserDoc, type UserLimits, type UserStatus } from './model';

export interface NewUser {
  email?: string | null;
  name?: string | null;
  clerkId?: string | null;
  limits?: Partial<UserLimits>;
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
