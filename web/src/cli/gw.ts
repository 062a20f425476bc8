import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, LOCAL_MONGODB_URI } from '../config';
import { toKeySummary } from '../modules/keys';
import { createServices, type Services } from '../services';

const HELP = `Usage: pnpm gw <command> [options]

  user:create --email <email> [--name <name>] [--rpm <n>] [--daily-tokens <n>]
  user:suspend <user>            user:unsuspend <user>
  user:limits <user> [--rpm <n>] [--daily-tokens <n>]
  key:issue <user> [--name <name>]     prints the secret once
  key:list <user>
  key:revoke <key id>
  usage <user> [--days <n>]
  usage:prune                    deletes raw usage events older than USAGE_EVENT_RETENTION_DAYS

<user> is a usr_ id or an e-mail address. Add --json for machine-readable output.`;

type Flags = Record<string, string | boolean | undefined>;

class UsageError extends Error {}

function positiveInt(flags: Flags, name: string): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1, not "${String(raw)}"`);
  return n;
}

async function requireUser(s: Services, ref: string | undefined) {
  if (!ref) throw new UsageError('name the user: a usr_ id or an e-mail address');
  const user = await s.users.findByIdOrEmail(ref);
  if (!user) throw new UsageError(`no user "${ref}"`);
  return user;
}

function limitsFrom(flags: Flags) {
  const rpm = positiveInt(flags, 'rpm');
  const dailyTokens = positiveInt(flags, 'daily-tokens');
  return { ...(rpm ? { rpm } : {}), ...(dailyTokens ? { dailyTokens } : {}) };
}

/** Each command returns what it prints: an object for --json, or lines for people. */
const commands: Record<string, (s: Services, args: string[], flags: Flags) => Promise<{ json: unknown; text: string }>> = {
  async 'user:create'(s, _args, flags) {
    if (typeof flags.email !== 'string') throw new UsageError('--email is required');
    const user = await s.users.create({ email: flags.email, name: typeof flags.name === 'string' ? flags.name : null, limits: limitsFrom(flags) });
    return { json: user, text: `${user._id}  ${user.email}  rpm=${user.limits.rpm} daily-tokens=${user.limits.dailyTokens}` };
  },
  async 'user:suspend'(s, [ref]) {
    const user = await s.users.setStatus((await requireUser(s, ref))._id, 'suspended');
    return { json: user, text: `${user?._id} suspended` };
  },
  async 'user:unsuspend'(s, [ref]) {
    const user = await s.users.setStatus((await requireUser(s, ref))._id, 'active');
    return { json: user, text: `${user?._id} active` };
  },
  async 'user:limits'(s, [ref], flags) {
    const user = await s.users.setLimits((await requireUser(s, ref))._id, limitsFrom(flags));
    return { json: user, text: `${user?._id}  rpm=${user?.limits.rpm} daily-tokens=${user?.limits.dailyTokens}` };
  },
  async 'key:issue'(s, [ref], flags) {
    const user = await requireUser(s, ref);
    const { key, secret } = await s.keys.issue(user._id, typeof flags.name === 'string' ? flags.name : 'cli');
    return { json: { key: toKeySummary(key), secret }, text: `${key._id}  ${key.name}\n${secret}\n(This secret is shown once. Store it now.)` };
  },
  async 'key:list'(s, [ref]) {
    const keys = (await s.keys.listForUser((await requireUser(s, ref))._id)).map((k) => toKeySummary(k));
    const text = keys.map((k) => `${k.id}  ${k.start}…  ${k.status.padEnd(7)}  ${k.name}  last used ${k.lastUsedAt ?? 'never'}`).join('\n');
    return { json: keys, text: text || '(no keys)' };
  },
  async 'key:revoke'(s, [id]) {
    if (!id) throw new UsageError('name the key id (key_...)');
    const key = await s.keys.revoke(id);
    if (!key) throw new UsageError(`no key "${id}"`);
    return { json: toKeySummary(key), text: `${key._id} revoked` };
  },
  async 'usage:prune'(s) {
    const deleted = await s.usage.pruneEvents(s.config.USAGE_EVENT_RETENTION_DAYS);
    return { json: { deleted }, text: `${deleted} usage events older than ${s.config.USAGE_EVENT_RETENTION_DAYS} days deleted (daily rollups kept)` };
  },
  async usage(s, [ref], flags) {
    const user = await requireUser(s, ref);
    const days = positiveInt(flags, 'days') ?? 7;
    const rows = await s.usage.daily(user._id, days);
    const text = rows.map((r) => `${r.day}  ${r.model.padEnd(20)}  requests=${r.requests}  prompt=${r.promptTokens}  completion=${r.completionTokens}  total=${r.totalTokens}`).join('\n');
    return { json: rows, text: text || `(no usage in the last ${days} days)` };
  },
};

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      rpm: { type: 'string' },
      'daily-tokens': { type: 'string' },
      days: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [name, ...args] = positionals;
  const command = name ? commands[name] : undefined;
  if (!command || values.help) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  // Operators on the quick start run `npm start`, whose local database is here; a set MONGODB_URI wins.
  process.env.MONGODB_URI ||= LOCAL_MONGODB_URI;
  const services = await createServices(loadConfig(), { gateway: false });
  try {
    const out = await command(services, args, values);
    process.stdout.write(`${values.json ? JSON.stringify(out.json, null, 2) : out.text}\n`);
    return 0;
  } finally {
    await services.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof UsageError || err instanceof ConfigError;
    process.stderr.write(`gw: ${known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(known ? 2 : 1);
  },
);
