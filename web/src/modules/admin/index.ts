export { createAdmin, type Admin, type AdminActor, type AdminResult, type UsageCsvRow } from './service';
export type { AuditDoc } from './model';
