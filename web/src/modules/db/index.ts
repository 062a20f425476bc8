export { anyOf, bulkWriteBounded, connectDatabase, isDatabaseUnavailable, isDuplicateKeyError, modelOn, syncIndexes, type Connection } from './connection';
export { batchedInsert, type BatchedInsert } from './batched-insert';
