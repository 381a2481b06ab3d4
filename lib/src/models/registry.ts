import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { ModelTypeName } from '../domain.js';
import type { ObjectStore } from '../objectstore/types.js';
import {
  ARTIFACT_FORMAT_VERSION,
  VERSION_PATTERN,
  invalidVersionMessage,
  decodeArray,
  decodeIds,
  encodeArtifact,
  fileNameOf,
  sha256,
  type ModelArtifact,
  type ModelManifest,
  type NumericArray,
} from './artifact.js';
import { insanityReason } from './sanity.js';

/** A stored version is unreadable: missing file, wrong checksum or size, unknown format. */
export class CorruptModelError extends FailedPreconditionError {}

/** A stored version whose scores are not finite or absurd: never activated. */
export class InsaneModelError extends FailedPreconditionError {}

/** Redis channel on which a newly activated version is announced to the recommendation services. */
export const MODEL_ACTIVATED_CHANNEL = 'models:activated';

export interface ModelActivatedMessage {
  modelType: ModelTypeName;
  version: string;
}

const prefixOf = (modelType: ModelTypeName) => `models/${modelType}/`;
const activeKey = (modelType: ModelTypeName) => `models/${modelType}/ACTIVE`;
const manifestKey = (modelType: ModelTypeName, version: string) => `models/${modelType}/${version}/manifest.json`;

/**
 * Versioned model artifacts in object storage. Publishing writes every file, reads each back to verify its
 * checksum, writes the manifest last, and only then may move the ACTIVE pointer: a crash or failed upload never
 * leaves a pointer to a half-written version (a version without manifest is invisible and pruned later).
 */
export class ModelRegistry {
  constructor(private readonly objects: ObjectStore) {}

  async publish(
    base: Omit<ModelManifest, 'files' | 'formatVersion'>,
    arrays: Record<string, NumericArray>,
    idMaps: Record<string, readonly string[]>,
  ): Promise<ModelManifest> {
    if (!VERSION_PATTERN.test(base.version)) throw new InvalidArgumentError(invalidVersionMessage(base.version));
    const { manifest, files } = encodeArtifact(base, arrays, idMaps);
    const dir = `${prefixOf(base.modelType)}${base.version}/`;
    for (const [name, body] of files) await this.objects.put(dir + name, body);
    for (const file of manifest.files) {
      const stored = await this.objects.get(dir + fileNameOf(file.name, file.kind));
      if (stored.length !== file.bytes || sha256(stored) !== file.sha256) {
        throw new CorruptModelError(`upload of ${dir}${file.name} did not verify`);
      }
    }
    await this.objects.put(manifestKey(base.modelType, base.version), Buffer.from(JSON.stringify(manifest, null, 2)));
    return manifest;
  }

  async activeVersion(modelType: ModelTypeName): Promise<string | null> {
    try {
      return (await this.objects.get(activeKey(modelType))).toString('utf8').trim() || null;
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /**
   * Moves the ACTIVE pointer to a stored version after verifying every file of it and that its scores are sane
   * (lib/src/models/sanity.ts): an insane version throws InsaneModelError (FAILED_PRECONDITION, with the reason)
   * and the pointer stays where it was.
   */
  async activate(modelType: ModelTypeName, version: string): Promise<ModelManifest> {
    const artifact = await this.load(modelType, version);
    const insane = insanityReason(artifact.manifest, artifact.arrays);
    if (insane) throw new InsaneModelError(`${modelType} ${version} cannot be activated: ${insane}`);
    await this.objects.put(activeKey(modelType), Buffer.from(version));
    return artifact.manifest;
  }

  async manifest(modelType: ModelTypeName, version: string): Promise<ModelManifest> {
    if (!VERSION_PATTERN.test(version)) throw new InvalidArgumentError(invalidVersionMessage(version));
    let body: Buffer;
    try {
      body = await this.objects.get(manifestKey(modelType, version));
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`model ${modelType} version '${version}' not found`);
      throw err;
    }
    let manifest: ModelManifest;
    try {
      manifest = JSON.parse(body.toString('utf8')) as ModelManifest;
    } catch {
      throw new CorruptModelError(`manifest of ${modelType} ${version} is not valid JSON`);
    }
    if (manifest.formatVersion !== ARTIFACT_FORMAT_VERSION || manifest.modelType !== modelType || manifest.version !== version) {
      throw new CorruptModelError(`manifest of ${modelType} ${version} has an unknown format or names another model`);
    }
    return manifest;
  }

  /** Reads and verifies every file of a version. */
  async load(modelType: ModelTypeName, version: string): Promise<ModelArtifact> {
    const manifest = await this.manifest(modelType, version);
    const dir = `${prefixOf(modelType)}${version}/`;
    const arrays: Record<string, NumericArray> = {};
    const idMaps: Record<string, string[]> = {};
    for (const file of manifest.files) {
      let body: Buffer;
      try {
        body = await this.objects.get(dir + fileNameOf(file.name, file.kind));
      } catch (err) {
        if (err instanceof NotFoundError) throw new CorruptModelError(`${modelType} ${version}: file ${file.name} is missing`);
        throw err;
      }
      if (body.length !== file.bytes || sha256(body) !== file.sha256) {
        throw new CorruptModelError(`${modelType} ${version}: checksum of ${file.name} does not match the manifest`);
      }
      if (file.kind === 'ids') {
        idMaps[file.name] = decodeIds(body);
        if (idMaps[file.name].length !== file.length) throw new CorruptModelError(`${modelType} ${version}: ${file.name} length mismatch`);
      } else {
        arrays[file.name] = decodeArray(file.kind, body);
      }
    }
    return { manifest, arrays, idMaps };
  }

  /** Every complete version (with a manifest), newest first. */
  async list(modelType: ModelTypeName): Promise<ModelManifest[]> {
    const keys = await this.objects.list(prefixOf(modelType));
    const versions = keys
      .map((key) => key.slice(prefixOf(modelType).length).split('/'))
      .filter((parts) => parts.length === 2 && parts[1] === 'manifest.json' && VERSION_PATTERN.test(parts[0]))
      .map((parts) => parts[0])
      .sort()
      .reverse();
    const manifests: ModelManifest[] = [];
    for (const version of versions) {
      try {
        manifests.push(await this.manifest(modelType, version));
      } catch (err) {
        if (!(err instanceof CorruptModelError)) throw err;
      }
    }
    return manifests;
  }

  /** Removes versions beyond the newest `keep` (and half-written ones), never the active one. Returns removed versions. */
  async prune(modelType: ModelTypeName, keep: number): Promise<string[]> {
    if (keep < 1) throw new InvalidArgumentError('keep must be at least 1');
    const active = await this.activeVersion(modelType);
    const keys = await this.objects.list(prefixOf(modelType));
    const byVersion = new Map<string, string[]>();
    for (const key of keys) {
      const version = key.slice(prefixOf(modelType).length).split('/')[0];
      if (!VERSION_PATTERN.test(version)) continue;
      byVersion.set(version, [...(byVersion.get(version) ?? []), key]);
    }
    const complete = [...byVersion.keys()].filter((v) => byVersion.get(v)!.some((k) => k.endsWith('/manifest.json'))).sort().reverse();
    const kept = new Set(complete.slice(0, keep));
    if (active) kept.add(active);
    // A version without manifest newer than the newest complete one may still be uploading: leave it.
    const newestComplete = complete[0] ?? '';
    const removed: string[] = [];
    for (const [version, versionKeys] of byVersion) {
      const halfWritten = !complete.includes(version);
      if (kept.has(version) || (halfWritten && version > newestComplete)) continue;
      // Activated since the listing (a concurrent promotion or rollback): kept. This narrows the race to the one
      // removal below; activation and pruning are not serialised across processes (see the closing note of 2026-11-30).
      if ((await this.activeVersion(modelType)) === version) continue;
      await this.objects.remove(versionKeys);
      removed.push(version);
    }
    return removed.sort();
  }

  /** Throws NotFoundError unless the version exists (used before activation requests). */
  async assertExists(modelType: ModelTypeName, version: string): Promise<void> {
    await this.manifest(modelType, version);
  }
}

