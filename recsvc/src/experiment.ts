import { createHash } from 'node:crypto';
import type { ModelTypeName } from '../../lib/src/domain.js';

export type AssignmentMode = 'hash' | 'random';

export interface ExperimentSettings {
  /** Changing the id reshuffles every user into new arms. */
  experimentId: string;
  /** Share of users assigned to ALS (0..1); the rest get the LightFM-style model. */
  alsShare: number;
  mode: AssignmentMode;
}

/**
 * The A/B arm of a user. `hash` mode is deterministic and sticky: the first 8 bytes of
 * sha256(experimentId + ':' + userId) as a fraction in [0, 1) against the split. `random` mode draws per request,
 * as the original system did.
 */
export function assignArm(userId: string, settings: ExperimentSettings, random: () => number = Math.random): ModelTypeName {
  const draw =
    settings.mode === 'random'
      ? random()
      : Number(createHash('sha256').update(`${settings.experimentId}:${userId}`).digest().readBigUInt64BE(0)) / 2 ** 64;
  return draw < settings.alsShare ? 'als' : 'lightfm';
}
