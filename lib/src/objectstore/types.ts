/**
 * Object storage for model artifacts (S3 API in production, a local folder for the demo and unit tests).
 * Both implementations pass the contract suite in lib/test/objectstore.contract.ts.
 */
export interface ObjectStore {
  /** Creates the bucket (or folder) if missing. */
  ensureBucket(): Promise<void>;
  put(key: string, body: Buffer): Promise<void>;
  /** Throws NotFoundError when the key does not exist. */
  get(key: string): Promise<Buffer>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  remove(keys: readonly string[]): Promise<void>;
  ping(): Promise<void>;
}
