import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{lib,gateway,recsvc,trainer,native,scripts}/test/**/*.test.ts'],
    // The fault suite (private servers, the services as processes, ~7 min) runs on its own: npm run test:faults
    // (a step of its own in .ci/run, after this suite).
    exclude: ['**/node_modules/**', 'dist/**', 'scripts/test/faults.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: two workers; real-server suites isolate themselves by database name and key prefix.
    maxWorkers: 2,
    // The default output, then one line per skipped real-server suite with its reason.
    reporters: ['default', './lib/test/support/skip-reasons-reporter.ts'],
  },
});
