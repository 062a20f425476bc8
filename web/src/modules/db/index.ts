export { bulkWriteBounded, connectDatabase, isDatabaseUnavailable, isDuplicateKeyError, modelOn, syncIndexes, type Connection } from './connection';
