import { createHash, randomBytes } from 'node:crypto';
import type { ModelTypeName } from '../domain.js';
import type { DataFingerprint } from './fingerprint.js';

/**
 * A trained model as stored in object storage under models/{model_type}/{version}/:
 * manifest.json plus one binary file per array (little-endian float32 or int32) and one text file per id map
 * (UTF-8, one id per line). Nothing is pickled; no big array is stored as JSON numbers.
 */
export const ARTIFACT_FORMAT_VERSION = 1;

export type ArrayKind = 'f32' | 'i32';
export type NumericArray = Float32Array | Int32Array;

export interface ManifestFile {
  name: string;
  kind: ArrayKind | 'ids';
  /** Elements (numbers or ids). */
  length: number;
  bytes: number;
  sha256: string;
}

export interface ModelManifest {
  formatVersion: number;
  modelType: ModelTypeName;
  version: string;
  createdAt: string;
  params: Record<string, number>;
  dataStats: Record<string, number>;
  metrics: Record<string, number>;
  dimensions: Record<string, number>;
  /** What the version was trained on (lib/src/models/fingerprint.ts); absent in versions made before the field. */
  data?: DataFingerprint;
  /** The hyper-parameter search that chose `params` (the trainer's TuningTrace), when the version was tuned. */
  tuning?: object;
  files: ManifestFile[];
}

export interface ModelArtifact {
  manifest: ModelManifest;
  arrays: Record<string, NumericArray>;
  idMaps: Record<string, string[]>;
}

export function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a typed array in little-endian order (a view when the machine is little-endian). */
export function encodeArray(array: NumericArray): Buffer {
  const view = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  if (littleEndian) return view;
  const copy = Buffer.from(view);
  copy.swap32();
  return copy;
}

/** A typed array from little-endian bytes (always a fresh, aligned copy). */
export function decodeArray(kind: ArrayKind, body: Buffer): NumericArray {
  if (body.length % 4 !== 0) throw new RangeError(`array file of ${body.length} bytes is not a whole number of 4-byte elements`);
  const copy = Buffer.alloc(body.length);
  body.copy(copy);
  if (!littleEndian) copy.swap32();
  return kind === 'f32' ? new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4) : new Int32Array(copy.buffer, copy.byteOffset, copy.length / 4);
}

export function encodeIds(ids: readonly string[]): Buffer {
  for (const id of ids) if (id.includes('\n')) throw new RangeError(`id '${id}' contains a newline`);
  return Buffer.from(ids.join('\n'), 'utf8');
}

export function decodeIds(body: Buffer): string[] {
  return body.length === 0 ? [] : body.toString('utf8').split('\n');
}

export function fileNameOf(name: string, kind: ManifestFile['kind']): string {
  return kind === 'ids' ? `${name}.ids.txt` : `${name}.${kind}`;
}

/** Encodes every file of an artifact and completes the manifest's file list with sizes and checksums. */
export function encodeArtifact(
  base: Omit<ModelManifest, 'files' | 'formatVersion'>,
  arrays: Record<string, NumericArray>,
  idMaps: Record<string, readonly string[]>,
): { manifest: ModelManifest; files: Map<string, Buffer> } {
  const files = new Map<string, Buffer>();
  const entries: ManifestFile[] = [];
  for (const [name, array] of Object.entries(arrays)) {
    const kind: ArrayKind = array instanceof Float32Array ? 'f32' : 'i32';
    const body = encodeArray(array);
    files.set(fileNameOf(name, kind), body);
    entries.push({ name, kind, length: array.length, bytes: body.length, sha256: sha256(body) });
  }
  for (const [name, ids] of Object.entries(idMaps)) {
    const body = encodeIds(ids);
    files.set(fileNameOf(name, 'ids'), body);
    entries.push({ name, kind: 'ids', length: ids.length, bytes: body.length, sha256: sha256(body) });
  }
  return { manifest: { ...base, formatVersion: ARTIFACT_FORMAT_VERSION, files: entries }, files };
}

/**
 * A sortable, unique version name: UTC time to the millisecond plus a random suffix,
 * e.g. 20261124T000012345Z-3f9a1c (versions made in the same millisecond tie-break on the suffix).
 */
export function newVersion(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export const VERSION_PATTERN = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

/** The message of a malformed version: names the format, with an example, and where to find real ones. */
export function invalidVersionMessage(version: string): string {
  return (
    `invalid model version '${String(version).slice(0, 70)}': a version is the UTC training time to the millisecond, a dash and ` +
    `6 hex digits, e.g. 20261124T000000123Z-a1b2c3 (GET /models lists the versions)`
  );
}
