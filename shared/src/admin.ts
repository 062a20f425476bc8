import { z } from 'zod';

const reason = z.string().trim().min(3, 'reason must say why (at least 3 characters)').max(500);

export const adminUserPatchSchema = z
  .object({
    status: z.enum(['active', 'suspended']).optional(),
    rpm: z.number().int().min(1).max(100_000).optional(),
    dailyTokens: z.number().int().min(1).max(1_000_000_000).optional(),
    reason,
  })
  .refine((v) => v.status !== undefined || v.rpm !== undefined || v.dailyTokens !== undefined, { message: 'give status, rpm or dailyTokens to change', path: ['status'] });

export const adminCreditsSchema = z.object({ tokens: z.number().int().min(1).max(1_000_000_000), reason });
export const adminRevokeKeySchema = z.object({ reason });

const day = z.iso.date('must be a date as YYYY-MM-DD');
export const usageExportQuerySchema = z
  .object({ from: day, to: day })
  .refine((v) => v.from <= v.to, { message: 'from must not be after to', path: ['from'] })
  .refine((v) => Date.parse(v.to) - Date.parse(v.from) <= 366 * 86_400_000, { message: 'the range may span at most 366 days', path: ['to'] });
