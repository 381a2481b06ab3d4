import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { ObjectStore } from './types.js';

/** Objects as files under a root folder; writes go to a temporary file first, then rename (atomic per object). */
export class DirectoryObjectStore implements ObjectStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep) || key.endsWith('/')) throw new InvalidArgumentError(`invalid object key '${key}'`);
    return path;
  }

  async ensureBucket(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async put(key: string, body: Buffer): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomUUID()}.partial`;
    await writeFile(temporary, body);
    await rename(temporary, path);
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`object '${key}' not found`);
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith('.partial')) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) keys.push(key);
        }
      }
    };
    await walk(this.root);
    return keys.sort();
  }

  /** Removes the objects and, like S3 (where folders are only key prefixes), the folders they leave empty. */
  async remove(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const path = this.path(key);
      await rm(path, { force: true });
      for (let dir = dirname(path); dir.startsWith(this.root + sep); dir = dirname(dir)) {
        try {
          await rmdir(dir);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') break;
          throw err;
        }
      }
    }
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }
}
