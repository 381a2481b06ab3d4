import * as http from 'node:http';
import * as https from 'node:https';
import { Client, type ClientOptions } from 'minio';
import { NotFoundError, UnavailableError } from '../errors.js';
import { isNetworkError } from '../dependency-errors.js';
import type { ObjectStore } from './types.js';

export interface S3Settings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /**
   * A request gives up when the server has sent nothing for this long, ms (before the answer's first byte and between
   * bytes of a body): a frozen S3 server (accepts, never answers) then costs an operation this much, and it rejects
   * with UnavailableError, instead of holding the call until its gRPC deadline. Default 3,000.
   */
  timeoutMs?: number;
}

/** The default of S3Settings.timeoutMs (S3_TIMEOUT_MS). */
export const DEFAULT_S3_TIMEOUT_MS = 3_000;

/**
 * The HTTP(S) transport minio calls, with an idle timeout on every request: after `timeoutMs` without a byte from
 * the server the request is destroyed with an ETIMEDOUT error (a network error: UnavailableError), which also fails
 * a body stream that stalls half-way. minio has no timeout option of its own; `transport` is its documented hook.
 */
function timeoutTransport(base: typeof http | typeof https, timeoutMs: number) {
  return {
    request(options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest {
      const req = base.request(options, callback);
      req.setTimeout(timeoutMs, () => {
        req.destroy(Object.assign(new Error(`the S3 server sent nothing for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      return req;
    },
  };
}

/** S3 error codes of a server that is there but cannot serve now (503 SlowDown, 500 InternalError...). */
const S3_UNAVAILABLE_CODES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout']);

/** The one place S3 errors become domain errors: unreachable or overloaded → UnavailableError; others unchanged. */
function mapS3Error(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (isNetworkError(err) || (typeof code === 'string' && S3_UNAVAILABLE_CODES.has(code))) {
    return new UnavailableError('the model store (S3) is unreachable; try again shortly');
  }
  return err;
}

/**
 * Object storage over the S3 API through the `minio` client (MinIO, AWS S3 or any S3-compatible server). Every
 * method rejects with UnavailableError (gRPC UNAVAILABLE, HTTP 503) when the server cannot be reached or sends
 * nothing for `timeoutMs` (frozen).
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: Client;

  constructor(private readonly settings: S3Settings) {
    const url = new URL(settings.endpoint);
    const useSSL = url.protocol === 'https:';
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      useSSL,
      // minio's Transport type is http.request's overloads; the one form minio calls, (options, callback), is kept.
      transport: timeoutTransport(useSSL ? https : http, settings.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS) as unknown as ClientOptions['transport'],
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      region: settings.region,
      pathStyle: true,
    });
  }

  /** Runs one S3 operation, mapping its errors once (mapS3Error). */
  private async op<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw mapS3Error(err);
    }
  }

  ensureBucket(): Promise<void> {
    return this.op(() => this.ensureBucketOnce());
  }

  private async ensureBucketOnce(): Promise<void> {
    if (!(await this.client.bucketExists(this.settings.bucket))) {
      try {
        await this.client.makeBucket(this.settings.bucket, this.settings.region);
      } catch (err) {
        // Another process may have created it in between.
        const code = (err as { code?: string }).code;
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
      }
    }
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.op(() => this.client.putObject(this.settings.bucket, key, body, body.length));
  }

  get(key: string): Promise<Buffer> {
    return this.op(() => this.getOnce(key));
  }

  private async getOnce(key: string): Promise<Buffer> {
    try {
      const stream = await this.client.getObject(this.settings.bucket, key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NoSuchKey' || code === 'NotFound') throw new NotFoundError(`object '${key}' not found`);
      throw err;
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.op(() => this.listOnce(prefix));
  }

  private async listOnce(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const item of this.client.listObjectsV2(this.settings.bucket, prefix, true)) {
      if ((item as { name?: string }).name) keys.push((item as { name: string }).name);
    }
    return keys.sort();
  }

  async remove(keys: readonly string[]): Promise<void> {
    if (keys.length) await this.op(() => this.client.removeObjects(this.settings.bucket, [...keys]));
  }

  async ping(): Promise<void> {
    await this.op(() => this.client.bucketExists(this.settings.bucket));
  }
}
