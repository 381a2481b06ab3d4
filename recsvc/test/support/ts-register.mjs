import { register } from 'node:module';
register('./ts-resolve-hook.mjs', import.meta.url);
