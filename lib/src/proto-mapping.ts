import type { ModelTypeName } from './domain.js';
import { InvalidArgumentError } from './errors.js';
import { ModelType, RecommendationSource } from './proto.js';
import type { RecommendationSourceName } from './store/types.js';

/** Domain names ↔ protobuf enums, in one place for every service and the gateway. */
export function modelTypeToProto(name: ModelTypeName): ModelType {
  return name === 'als' ? ModelType.MODEL_TYPE_ALS : ModelType.MODEL_TYPE_LIGHTFM;
}

/** UNSPECIFIED becomes undefined (let the service choose); unknown values are an INVALID_ARGUMENT. */
export function modelTypeFromProto(value: ModelType): ModelTypeName | undefined {
  switch (value) {
    case ModelType.MODEL_TYPE_UNSPECIFIED:
      return undefined;
    case ModelType.MODEL_TYPE_ALS:
      return 'als';
    case ModelType.MODEL_TYPE_LIGHTFM:
      return 'lightfm';
    default:
      throw new InvalidArgumentError(
        `unknown model type ${String(value)}; allowed: MODEL_TYPE_ALS, MODEL_TYPE_LIGHTFM, or MODEL_TYPE_UNSPECIFIED to let the experiment choose`,
      );
  }
}

const sources: Record<RecommendationSourceName, RecommendationSource> = {
  cache: RecommendationSource.RECOMMENDATION_SOURCE_CACHE,
  model: RecommendationSource.RECOMMENDATION_SOURCE_MODEL,
  fold_in: RecommendationSource.RECOMMENDATION_SOURCE_FOLD_IN,
  genres_top: RecommendationSource.RECOMMENDATION_SOURCE_GENRES_TOP,
  global_top: RecommendationSource.RECOMMENDATION_SOURCE_GLOBAL_TOP,
};

export function sourceToProto(name: RecommendationSourceName): RecommendationSource {
  return sources[name];
}

/** The services always set a source; an unknown one is a contract violation (an internal error, not a 4xx). */
export function sourceFromProto(value: RecommendationSource): RecommendationSourceName {
  const entry = Object.entries(sources).find(([, v]) => v === value);
  if (!entry) throw new Error(`upstream answered with an unknown recommendation source ${String(value)}`);
  return entry[0] as RecommendationSourceName;
}

export function modelTypeName(value: ModelType): ModelTypeName | 'unspecified' {
  return value === ModelType.MODEL_TYPE_ALS ? 'als' : value === ModelType.MODEL_TYPE_LIGHTFM ? 'lightfm' : 'unspecified';
}

/**
 * The REST names of a protobuf enum: each value's name without the enum's prefix, lower-cased, in declaration order,
 * without UNSPECIFIED (and ts-proto's UNRECOGNIZED). The gateway's OpenAPI enums are built from these, so the REST
 * surface cannot drift from the proto (ModelType → ["als", "lightfm"]).
 */
export function protoEnumNames(protoEnum: Record<string, string | number>, prefix: string): string[] {
  return Object.entries(protoEnum)
    .filter(([name, value]) => typeof value === 'number' && value > 0 && name.startsWith(prefix))
    .sort(([, a], [, b]) => (a as number) - (b as number))
    .map(([name]) => name.slice(prefix.length).toLowerCase());
}

/** The REST name of a protobuf enum value (see protoEnumNames); 'unspecified' for 0 and unknown values. */
export function protoEnumName(protoEnum: Record<string, string | number>, prefix: string, value: number): string {
  const name = protoEnum[value];
  return typeof name === 'string' && name.startsWith(prefix) && value > 0 ? name.slice(prefix.length).toLowerCase() : 'unspecified';
}

/** The protobuf value of a REST enum name (see protoEnumNames); 0 (UNSPECIFIED) for unknown names. */
export function protoEnumValue(protoEnum: Record<string, string | number>, prefix: string, name: string): number {
  const value = protoEnum[`${prefix}${name.toUpperCase()}`];
  return typeof value === 'number' ? value : 0;
}
