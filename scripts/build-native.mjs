#!/usr/bin/env node
// Builds the native core (native/ -> native/build/Release/recsys_native.node) with cmake-js in release mode.
// Node-API headers come from the node-api-headers package (native/package.json declares napi_versions), so
// nothing is downloaded. A missing cmake, compiler or cmake-js, or a failed build, prints one warning line and
// exits 0: the pure-TypeScript fallback is used instead (RECSYS_NATIVE=native makes that fallback an error).
//
// Usage: node scripts/build-native.mjs [--verbose] [--debug]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const output = join(nativeDir, 'build', 'Release', 'recsys_native.node');
const verbose = process.argv.includes('--verbose') || process.env.npm_config_loglevel === 'verbose';
const debug = process.argv.includes('--debug');

function warn(reason) {
  console.warn(`build-native: ${reason}; the pure-TypeScript fallback will be used`);
  process.exit(0);
}

function has(command, args) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return !result.error && result.status === 0;
}

if (!has('cmake', ['--version'])) warn('cmake not found');
const cxx = process.env.CXX || 'c++';
if (!has(cxx, ['--version']) && !has('g++', ['--version']) && !has('clang++', ['--version'])) {
  warn('no C++ compiler found');
}

let cmakeJs;
try {
  cmakeJs = createRequire(join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
} catch {
  warn('cmake-js is not installed');
}

const args = [cmakeJs, 'compile', '--directory', nativeDir, '--out', join(nativeDir, 'build'), '--parallel', String(availableParallelism())];
if (debug) args.push('--debug');
if (!verbose) args.push('--log-level', 'error');
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (result.error || result.status !== 0) {
  const why = result.error ? result.error.message : `exit ${result.status}`;
  warn(`native build failed (${why}${verbose ? '' : '; rerun with --verbose for the compiler output'})`);
}
if (!debug && !existsSync(output)) warn(`the build did not produce ${output}`);
console.log(`build-native: built ${debug ? join(nativeDir, 'build', 'Debug', 'recsys_native.node') : output}`);
