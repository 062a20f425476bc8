export { createKeyService, judgeKey, toKeySummary, type KeyRejection, type KeyService, type KeyVerification } from './service';
export { hashKey, keyIdFor, looksLikeKey, KEY_PREFIX } from './secret';
export type { ApiKeyDoc } from './model';
export { createSecretBox, type SecretBox } from './sealed';
