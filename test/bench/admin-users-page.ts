// How the admin users page scales: fills a fresh database with USERS users (default 100,000) and a day of
// rollups for each, then times the first page, a page deep into the list, and an e-mail search. Pages read
// rollups, never raw events, so the number of events does not enter. Run: npx tsx test/bench/admin-users-page.ts
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@glm-gateway/web/src/config';
import { createServices } from '@glm-gateway/web/src/services';
import { startTestDatabase } from '../harness/database';

const USERS = Number(process.env.USERS ?? 100_000);
const db = await startTestDatabase();
const services = await createServices(loadConfig({ MONGODB_URI: `${db.uri}bench_${randomBytes(3).toString('hex')}`, LOG_LEVEL: 'silent' }), { gateway: false });
const t0 = performance.now();
const today = new Date().toISOString().slice(0, 10);
for (let i = 0; i < USERS; i += 1000) {
  const users = Array.from({ length: Math.min(1000, USERS - i) }, (_, j) => {
    const n = i + j;
    return { _id: `usr_bench${String(n).padStart(7, '0')}`, email: `u${n}@bench.test`, status: 'active', limits: { rpm: 60, dailyTokens: 1e6 }, createdAt: new Date(Date.now() - n * 1000), updatedAt: new Date() };
  });
  await services.db.collection('users').insertMany(users as never[]);
  await services.db.collection('usage_daily').insertMany(users.map((u) => ({ _id: `${u._id}:${today}:glm-4.6:ins_b`, instance: 'ins_b', userId: u._id, day: today, model: 'glm-4.6', requests: 3, failures: 0, promptTokens: 10, completionTokens: 20, totalTokens: 30 })) as never[]);
}
const filled = performance.now() - t0;
const time = async (label: string, fn: () => Promise<unknown>) => {
  const s = performance.now();
  await fn();
  return `${label}: ${(performance.now() - s).toFixed(0)} ms`;
};
const first = await services.admin.listUsers({ sort: 'newest' });
let deep = first.nextCursor ?? undefined;
for (let p = 0; p < 5 && deep; p++) deep = (await services.admin.listUsers({ sort: 'newest', cursor: deep })).nextCursor ?? undefined;
const lines = [
  `${USERS} users and ${USERS} rollup rows inserted in ${(filled / 1000).toFixed(1)} s (${db.kind})`,
  await time('first page, newest first', () => services.admin.listUsers({ sort: 'newest' })),
  await time('seventh page, newest first', () => services.admin.listUsers({ sort: 'newest', cursor: deep })),
  await time('first page by e-mail', () => services.admin.listUsers({ sort: 'email' })),
  await time('search by e-mail', () => services.admin.listUsers({ query: `u${Math.floor(USERS / 2)}@bench.test` })),
];
process.stdout.write(`${lines.join('\n')}\n`);
await services.close();
await db.stop();
