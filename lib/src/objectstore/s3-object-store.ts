import { Client } from 'minio';
import { NotFoundError } from '../errors.js';
import type { ObjectStore } from './types.js';

export interface S3Settings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

/** Object storage over the S3 API through the `minio` client (MinIO, AWS S3 or any S3-compatible server). */
export class S3ObjectStore implements ObjectStore {
  private readonly client: Client;

  constructor(private readonly settings: S3Settings) {
    const url = new URL(settings.endpoint);
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      useSSL: url.protocol === 'https:',
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      region: settings.region,
      pathStyle: true,
    });
  }

  async ensureBucket(): Promise<void> {
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
    await this.client.putObject(this.settings.bucket, key, body, body.length);
  }

  async get(key: string): Promise<Buffer> {
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

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const item of this.client.listObjectsV2(this.settings.bucket, prefix, true)) {
      if ((item as { name?: string }).name) keys.push((item as { name: string }).name);
    }
    return keys.sort();
  }

  async remove(keys: readonly string[]): Promise<void> {
    if (keys.length) await this.client.removeObjects(this.settings.bucket, [...keys]);
  }

  async ping(): Promise<void> {
    await this.client.bucketExists(this.settings.bucket);
  }
}
