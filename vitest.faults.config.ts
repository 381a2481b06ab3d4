import { defineConfig } from 'vitest/config';

/** The fault suite alone (`npm run test:faults`): scripts/test/faults.test.ts, excluded from the default run. */
export default defineConfig({
  test: {
    include: ['scripts/test/faults.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    reporters: ['default', './lib/test/support/skip-reasons-reporter.ts'],
  },
});
