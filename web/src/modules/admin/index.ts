export { createAdmin, userSorts, type Admin, type AdminActor, type AdminResult, type UsageCsvRow, type UserSort } from './service';
export type { AuditDoc } from './model';
