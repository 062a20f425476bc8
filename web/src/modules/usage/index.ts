export { createUsageMeter, type UsageMeter, type UsageRecord } from './meter';
export { createUsageQueries, toUsageEventDto, type UsageQueries } from './service';
export { countTokens, promptTexts } from './tokenizer';
export type { UsageEventDoc } from './model';
