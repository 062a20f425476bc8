import mongoose, { type Connection, type Model, type Schema } from 'mongoose';

export type { Connection };

export async function connectDatabase(uri: string): Promise<Connection> {
  const db = mongoose.createConnection(uri, {
    // Fail fast while the database is away instead of queueing requests behind a hung connect.
    serverSelectionTimeoutMS: 3_000,
    bufferCommands: false,
    maxPoolSize: 50,
  });
  await db.asPromise();
  return db;
}

/** Binds a schema to a connection once; several modules (and Next's bundles) may ask for the same model. */
export function modelOn<T>(db: Connection, name: string, schema: Schema<T>): Model<T> {
  return (db.models[name] as Model<T> | undefined) ?? db.model<T>(name, schema);
}

/** Builds every index the schemas declare; run at start so unique constraints exist before the first write. */
export async function syncIndexes(db: Connection): Promise<void> {
  for (const model of Object.values(db.models)) {
    await model.createCollection().catch((err: unknown) => {
      if ((err as { codeName?: string }).codeName !== 'NamespaceExists') throw err;
    });
    await model.createIndexes();
  }
}

/**
 * FerretDB 1.x (SQLite) holds a connection from a pool of 100 for every statement of an `update` command
 * until the command ends, and needs one more to apply each: a command of 100 updates waits for ever on
 * itself, and every later command on the server waits behind it. Seen at 10,000 users: the usage meter's
 * rollups for one batch. Two commands of this size at once still leave a third of the pool free.
 */
const WRITES_PER_COMMAND = 32;

/**
 * A bulk write sent as commands of a bounded size, one after another. Ordered, it stops at the first command
 * that fails; unordered, it sends every command and then throws the first failure.
 */
export async function bulkWriteBounded<T>(model: Model<T>, ops: Parameters<Model<T>['bulkWrite']>[0], options: { ordered: boolean }): Promise<void> {
  let failure: unknown;
  for (let i = 0; i < ops.length; i += WRITES_PER_COMMAND) {
    try {
      await model.bulkWrite(ops.slice(i, i + WRITES_PER_COMMAND), options);
    } catch (err) {
      if (options.ordered) throw err;
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * A filter value matching any of `values`. A single value is matched by equality, which FerretDB 1.x filters
 * in SQLite; `$in` it filters only after reading every row of the collection.
 */
export function anyOf<V>(values: V[]): V | { $in: V[] } {
  return values.length === 1 ? values[0]! : { $in: values };
}

export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 11000;
}

const UNAVAILABLE = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

/**
 * Socket failures the driver passes through unwrapped: the first command on a pooled connection whose server
 * just died fails with a plain EPIPE ("This socket has been ended by the other party").
 */
const SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** An outage rather than a bug: answered with 503 and retried, not reported as an internal error. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNAVAILABLE.has(err.name) || UNAVAILABLE.has(err.constructor.name)) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && SOCKET_CODES.has(code);
}
