export { createUserService, type ClerkProfile, type NewUser, type UserService } from './service';
export type { UserDoc, UserLimits, UserStatus } from './model';
