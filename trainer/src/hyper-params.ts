import { InvalidArgumentError } from '../../lib/src/errors.js';
import type { TrainerConfig } from './config.js';

/** ALS hyper-parameters (implicit's names). */
export interface AlsHyperParams {
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  cgSteps: number;
  seed: number;
}

/** WARP hyper-parameters (LightFM's names). */
export interface WarpHyperParams {
  noComponents: number;
  epochs: number;
  learningRate: number;
  maxSampled: number;
  itemAlpha: number;
  userAlpha: number;
  seed: number;
}

type Rule = { min: number; max: number; integer: boolean; exclusiveMin?: boolean };
const int = (min: number, max: number): Rule => ({ min, max, integer: true });
const real = (min: number, max: number, exclusiveMin = false): Rule => ({ min, max, integer: false, exclusiveMin });

/** The accepted range of every hyper-parameter (StartTraining requests and environment defaults alike). */
export const ALS_RULES: Record<keyof AlsHyperParams, Rule> = {
  factors: int(1, 1024),
  regularization: real(0, 1e6),
  alpha: real(0, 1e6),
  iterations: int(1, 1000),
  cgSteps: int(1, 64),
  seed: int(0, 2 ** 31 - 1),
};

export const WARP_RULES: Record<keyof WarpHyperParams, Rule> = {
  noComponents: int(1, 1024),
  epochs: int(1, 1000),
  learningRate: real(0, 10, true),
  maxSampled: int(1, 10_000),
  itemAlpha: real(0, 1e6),
  userAlpha: real(0, 1e6),
  seed: int(0, 2 ** 31 - 1),
};

export function defaultAlsParams(config: TrainerConfig): AlsHyperParams {
  return {
    factors: config.ALS_FACTORS,
    regularization: config.ALS_REGULARIZATION,
    alpha: config.ALS_ALPHA,
    iterations: config.ALS_ITERATIONS,
    cgSteps: config.ALS_CG_STEPS,
    seed: config.ALS_SEED,
  };
}

export function defaultWarpParams(config: TrainerConfig): WarpHyperParams {
  return {
    noComponents: config.WARP_COMPONENTS,
    epochs: config.WARP_EPOCHS,
    learningRate: config.WARP_LEARNING_RATE,
    maxSampled: config.WARP_MAX_SAMPLED,
    itemAlpha: config.WARP_ITEM_ALPHA,
    userAlpha: config.WARP_USER_ALPHA,
    seed: config.WARP_SEED,
  };
}

/**
 * Checks requested overrides: proto3 has no presence for scalars, so 0 (or a missing key) means "keep the default";
 * anything else must be in range. Returns only the overrides that were set.
 */
export function checkOverrides<T extends object>(
  prefix: string,
  rules: Record<keyof T, Rule>,
  requested: Partial<Record<keyof T, unknown>> | undefined,
): Partial<T> {
  const out: Partial<Record<keyof T, number>> = {};
  if (!requested) return out as Partial<T>;
  for (const key of Object.keys(requested) as (keyof T)[]) {
    const rule = rules[key];
    if (!rule) throw new InvalidArgumentError(`${prefix}.${String(key)} is not a known hyper-parameter`);
    const value = requested[key];
    if (value === undefined || value === 0) continue;
    const name = `${prefix}.${String(key).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${name} must be a finite number`);
    if (rule.integer && !Number.isInteger(value)) throw new InvalidArgumentError(`${name} must be an integer, got ${value}`);
    const belowMin = rule.exclusiveMin ? value <= rule.min : value < rule.min;
    if (belowMin || value > rule.max) {
      throw new InvalidArgumentError(`${name} must be ${rule.exclusiveMin ? 'above' : 'at least'} ${rule.min} and at most ${rule.max}, got ${value}`);
    }
    out[key] = value;
  }
  return out as Partial<T>;
}

export function resolveAlsParams(config: TrainerConfig, overrides: Partial<Record<string, unknown>> | undefined): AlsHyperParams {
  return { ...defaultAlsParams(config), ...checkOverrides<AlsHyperParams>('als_params', ALS_RULES, overrides) };
}

export function resolveWarpParams(config: TrainerConfig, overrides: Partial<Record<string, unknown>> | undefined): WarpHyperParams {
  return { ...defaultWarpParams(config), ...checkOverrides<WarpHyperParams>('warp_params', WARP_RULES, overrides) };
}
