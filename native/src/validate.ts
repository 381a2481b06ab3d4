/**
 * Argument checks of the public API. TypeError for a wrong type, RangeError for a bad value; the messages are the
 * ones native/cpp/args.cc uses for the same checks, and the tests assert them exactly.
 */
import type { CsrMatrix } from './types.js';

export const MAX_FACTORS = 1024;
export const MAX_THREADS = 256;
export const MAX_ITERATIONS = 100000;
export const MAX_SAMPLED = 100000;
export const MAX_SEED = 4294967295;
const MAX_DIM = 2147483646;

export function object(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new TypeError(`${name} must be an object`);
  }
  return v as Record<string, unknown>;
}

/** An optional params object: undefined/null is {}; unknown keys are refused (a typo must not pass silently). */
export function params(v: unknown, allowed: readonly string[], kind: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  const o = object(v, 'params');
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new TypeError(`unknown ${kind} parameter: ${key}`);
  }
  return o;
}

export function integer(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function finite(v: unknown, name: string): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number`);
  return v;
}

export function finiteAtLeast(v: unknown, name: string, min: number, exclusive: boolean): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isFinite(v) || (exclusive ? !(v > min) : !(v >= min))) {
    throw new RangeError(`${name} must be a finite number ${exclusive ? '>' : '>='} ${min}`);
  }
  return v;
}

export function boolean(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return v;
}

export function optionalFunction<F>(v: unknown, name: string): F | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'function') throw new TypeError(`${name} must be a function`);
  return v as F;
}

export function float32(v: unknown, name: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  return v;
}

export function int32(v: unknown, name: string): Int32Array {
  if (!(v instanceof Int32Array)) throw new TypeError(`${name} must be an Int32Array`);
  return v;
}

export function float64(v: unknown, name: string): Float64Array {
  if (!(v instanceof Float64Array)) throw new TypeError(`${name} must be a Float64Array`);
  return v;
}

export function expectLength(actual: number, expected: number, name: string): void {
  if (actual !== expected) throw new RangeError(`${name} must have length ${expected}`);
}

export function idsInRange(ids: Int32Array, n: number, name: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (v < 0 || v >= n) throw new RangeError(`${name}[${i}] = ${v} is out of range [0, ${n})`);
  }
}

export function finiteValues(values: Float32Array, name: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${name}[${i}] is not finite`);
  }
}

export interface CsrChecks {
  /** Strictly increasing column ids within each row. */
  sortedRows?: boolean;
  finiteData?: boolean;
}

/** A CsrMatrix, fully checked in O(nnz). */
export function csr(v: unknown, name: string, checks: CsrChecks = {}): CsrMatrix {
  const o = object(v, name);
  const nRows = integer(o.nRows, `${name}.nRows`, 0, MAX_DIM);
  const nCols = integer(o.nCols, `${name}.nCols`, 0, MAX_DIM);
  const indptr = int32(o.indptr, `${name}.indptr`);
  const indices = int32(o.indices, `${name}.indices`);
  const data = float32(o.data, `${name}.data`);
  expectLength(indptr.length, nRows + 1, `${name}.indptr`);
  expectLength(data.length, indices.length, `${name}.data`);
  let ok = indptr[0] === 0 && indptr[nRows] === indices.length;
  for (let r = 0; ok && r < nRows; r++) ok = indptr[r] <= indptr[r + 1];
  if (!ok) throw new RangeError(`${name}.indptr must start at 0, never decrease and end at ${indices.length}`);
  for (let i = 0; i < indices.length; i++) {
    const c = indices[i];
    if (c < 0 || c >= nCols) throw new RangeError(`${name}.indices[${i}] = ${c} is out of range [0, ${nCols})`);
  }
  if (checks.sortedRows) {
    for (let r = 0; r < nRows; r++) {
      for (let i = indptr[r] + 1; i < indptr[r + 1]; i++) {
        if (indices[i] <= indices[i - 1]) {
          throw new RangeError(`${name}.indices must be strictly increasing within each row (row ${r})`);
        }
      }
    }
  }
  if (checks.finiteData) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new RangeError(`${name}.data[${i}] = ${data[i]} is not finite`);
    }
  }
  return { nRows, nCols, indptr, indices, data };
}

/** A flat rows x dim matrix; returns the row count. */
export function matrixRows(v: Float32Array, dim: number, name: string): number {
  if (v.length % dim !== 0) throw new RangeError(`${name}.length must be a multiple of ${dim}`);
  if (v.length === 0) throw new RangeError(`${name} must not be empty`);
  return v.length / dim;
}

export function optionalFloat32(v: unknown, name: string, length: number): Float32Array | undefined {
  if (v === undefined || v === null) return undefined;
  const a = float32(v, name);
  expectLength(a.length, length, name);
  return a;
}

export function optionalInt32(v: unknown, name: string): Int32Array | undefined {
  if (v === undefined || v === null) return undefined;
  return int32(v, name);
}

export function signal(v: unknown): AbortSignal | undefined {
  if (v === undefined || v === null) return undefined;
  if (!(v instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return v;
}
