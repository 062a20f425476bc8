import { z } from 'zod';

export const usageDaySchema = z.object({
  day: z.string(),
  model: z.string(),
  requests: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number(),
});
export type UsageDay = z.infer<typeof usageDaySchema>;

export const usageEventSchema = z.object({
  id: z.string(),
  at: z.string(),
  keyId: z.string(),
  model: z.string(),
  status: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number(),
  latencyMs: z.number(),
  ttftMs: z.number().nullable(),
  aborted: z.boolean(),
  estimated: z.boolean(),
});
export type UsageEventDto = z.infer<typeof usageEventSchema>;

export const usageReportSchema = z.object({
  days: z.array(usageDaySchema),
  recent: z.array(usageEventSchema),
  today: z.object({ tokens: z.number(), limit: z.number(), requests: z.number() }),
});
export type UsageReport = z.infer<typeof usageReportSchema>;
