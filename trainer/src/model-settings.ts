import type { ModelTypeName } from '../../lib/src/domain.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/src/errors.js';
import type { ObjectStore } from '../../lib/src/objectstore/types.js';
import type { TrainerConfig } from './config.js';
import { ALS_RULES, WARP_RULES, defaultAlsParams, defaultWarpParams } from './hyper-params.js';
import { DEFAULT_SEARCH_SPACES, type ParamRange, type SearchSpace, type TuningBudget } from './tuning.js';

/**
 * A model type's training configuration: the values of every hyper-parameter (the fixed ones, and the start of the
 * search for the searched ones), the ranges searched, and the tuning budget. Scheduled and API runs both use the
 * stored settings; the environment only gives the initial values (until the first UpdateModelConfig).
 */
export interface ModelSettings {
  values: Record<string, number>;
  search: SearchSpace;
  tuning: TuningBudget;
}

export interface StoredSettings {
  modelType: ModelTypeName;
  settings: ModelSettings;
  /** 'stored' once changed through the API, 'environment' before. */
  source: 'stored' | 'environment';
  updatedAt: Date | undefined;
}

const RULES: Record<ModelTypeName, Record<string, { min: number; max: number; integer: boolean; exclusiveMin?: boolean }>> = {
  als: ALS_RULES,
  lightfm: WARP_RULES,
};

/** Parameters that only select a random stream or a solver detail: never searched. */
const NOT_SEARCHABLE = new Set(['seed', 'cgSteps']);

export const TUNING_RULES = {
  budgetFits: { min: 0, max: 100 },
  maxTrials: { min: 1, max: 1000 },
  validationFraction: { min: 0.05, max: 0.5 },
  minImprovement: { min: 0, max: 0.1 },
} as const;

export function initialSettings(config: TrainerConfig, modelType: ModelTypeName): ModelSettings {
  const values = { ...(modelType === 'als' ? defaultAlsParams(config) : defaultWarpParams(config)) } as Record<string, number>;
  return {
    values,
    search: structuredClone(DEFAULT_SEARCH_SPACES[modelType]),
    tuning: {
      enabled: config.TUNE_ENABLED,
      budgetFits: config.TUNE_BUDGET_FITS,
      maxTrials: config.TUNE_MAX_TRIALS,
      validationFraction: config.TUNE_VALIDATION_FRACTION,
      minImprovement: config.TUNE_MIN_IMPROVEMENT,
    },
  };
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function checkNumber(field: string, value: unknown, rule: { min: number; max: number; integer?: boolean; exclusiveMin?: boolean }): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${field} must be a finite number`);
  if (rule.integer && !Number.isInteger(value)) throw new InvalidArgumentError(`${field} must be an integer, got ${value}`);
  const below = rule.exclusiveMin ? value <= rule.min : value < rule.min;
  if (below || value > rule.max) {
    throw new InvalidArgumentError(`${field} must be ${rule.exclusiveMin ? 'above' : 'at least'} ${rule.min} and at most ${rule.max}, got ${value}`);
  }
  return value;
}

/**
 * Checks settings sent by an operator; every error is an InvalidArgumentError naming the field and the allowed
 * range. `patch` may carry any subset; the rest comes from `current`. A search range replaces that parameter's range;
 * `search` entries set to null stop searching that parameter.
 */
export function mergeSettings(
  modelType: ModelTypeName,
  current: ModelSettings,
  patch: { values?: Record<string, number>; search?: Record<string, Partial<ParamRange> | null>; tuning?: Partial<TuningBudget> },
): ModelSettings {
  const rules = RULES[modelType];
  const allowed = Object.keys(rules).join(', ');
  const out: ModelSettings = structuredClone(current);
  for (const [name, value] of Object.entries(patch.values ?? {})) {
    const rule = rules[name];
    if (!rule) throw new InvalidArgumentError(`values.${name} is not a ${modelType} hyper-parameter (allowed: ${allowed})`);
    out.values[name] = checkNumber(`values.${name}`, value, rule);
  }
  for (const [name, range] of Object.entries(patch.search ?? {})) {
    const rule = rules[name];
    if (!rule) throw new InvalidArgumentError(`search.${name} is not a ${modelType} hyper-parameter (allowed: ${allowed})`);
    if (NOT_SEARCHABLE.has(name)) throw new InvalidArgumentError(`search.${name} cannot be searched (only fixed)`);
    if (range === null) {
      delete out.search[name];
      continue;
    }
    const merged = { ...(out.search[name] ?? { min: rule.min, max: rule.max, integer: rule.integer, scale: 'log' as const }), ...range, integer: rule.integer };
    const field = `search.${name}`;
    checkNumber(`${field}.min`, merged.min, rule);
    checkNumber(`${field}.max`, merged.max, rule);
    if (merged.min > merged.max) throw new InvalidArgumentError(`${field}.min (${merged.min}) must not exceed ${field}.max (${merged.max})`);
    if (merged.scale !== 'log' && merged.scale !== 'linear') throw new InvalidArgumentError(`${field}.scale must be 'log' or 'linear'`);
    if (merged.scale === 'log' && merged.min <= 0) throw new InvalidArgumentError(`${field}.min must be above 0 on a log scale, got ${merged.min}`);
    out.search[name] = { min: merged.min, max: merged.max, integer: rule.integer, scale: merged.scale };
  }
  const t = patch.tuning ?? {};
  if (t.enabled !== undefined) {
    if (typeof t.enabled !== 'boolean') throw new InvalidArgumentError('tuning.enabled must be true or false');
    out.tuning.enabled = t.enabled;
  }
  for (const key of ['budgetFits', 'maxTrials', 'validationFraction', 'minImprovement'] as const) {
    if (t[key] === undefined) continue;
    const rule = TUNING_RULES[key];
    out.tuning[key] = checkNumber(`tuning.${snake(key)}`, t[key], { ...rule, integer: key === 'maxTrials' });
  }
  return out;
}

const settingsKey = (modelType: ModelTypeName) => `models/${modelType}/SETTINGS.json`;

/**
 * The settings of each model type, one JSON document per type in the object store beside the versions it governs
 * (models/{type}/SETTINGS.json): the trainer API and worker already share that store on every deployment (embedded
 * folder or S3), no database collection or Store interface change is needed, and the settings travel with the
 * models when a bucket is copied. A write replaces the document whole (last writer wins).
 */
export class ModelSettingsStore {
  constructor(
    private readonly objects: ObjectStore,
    private readonly config: TrainerConfig,
  ) {}

  async get(modelType: ModelTypeName): Promise<StoredSettings> {
    let body: Buffer;
    try {
      body = await this.objects.get(settingsKey(modelType));
    } catch (err) {
      if (err instanceof NotFoundError) return { modelType, settings: initialSettings(this.config, modelType), source: 'environment', updatedAt: undefined };
      throw err;
    }
    const doc = JSON.parse(body.toString('utf8')) as { settings: ModelSettings; updatedAt: string };
    // Fill in what a document written by an older version lacks, from the environment.
    const base = initialSettings(this.config, modelType);
    const settings: ModelSettings = {
      values: { ...base.values, ...doc.settings.values },
      search: doc.settings.search ?? base.search,
      tuning: { ...base.tuning, ...doc.settings.tuning },
    };
    return { modelType, settings, source: 'stored', updatedAt: new Date(doc.updatedAt) };
  }

  async put(modelType: ModelTypeName, settings: ModelSettings, now = new Date()): Promise<StoredSettings> {
    await this.objects.put(settingsKey(modelType), Buffer.from(JSON.stringify({ settings, updatedAt: now.toISOString() }, null, 2)));
    return { modelType, settings, source: 'stored', updatedAt: now };
  }

  /** Back to the environment's values (removes the stored document). */
  async reset(modelType: ModelTypeName): Promise<StoredSettings> {
    await this.objects.remove([settingsKey(modelType)]);
    return { modelType, settings: initialSettings(this.config, modelType), source: 'environment', updatedAt: undefined };
  }
}
