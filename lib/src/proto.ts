/** The one module through which code imports the generated protobuf stubs (gen/ is never edited by hand). */
export * from '../../gen/recsys/v1/common.js';
export * from '../../gen/recsys/v1/recommendation_service.js';
export * from '../../gen/recsys/v1/trainer_service.js';
export * from '../../gen/recsys/v1/events.js';
export { Timestamp } from '../../gen/google/protobuf/timestamp.js';
export { type DeepPartial, type Exact, type MessageFns, protobufPackage, protobufFileName } from '../../gen/recsys/v1/common.js';
