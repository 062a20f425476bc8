import { sharedDatabase, stopSharedDatabase } from './context';

/** Mocha root hooks: one database server for the whole run. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(180_000);
    await sharedDatabase();
  },
  async afterAll() {
    await stopSharedDatabase();
  },
};
