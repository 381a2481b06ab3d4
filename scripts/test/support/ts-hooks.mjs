// Lets `node --experimental-transform-types --import ./scripts/test/support/ts-hooks.mjs scripts/demo.ts` run the
// TypeScript sources directly (tests start the demo as a child process without building dist/): an import of
// './x.js' that does not exist resolves to './x.ts', as tsc's NodeNext resolution does.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/'))) {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      }
      throw err;
    }
  },
});
