import type { CooMatrix } from '../../lib/src/sparse.js';

/**
 * Coordinate-form entries in growable typed arrays (capacity doubles): 12 bytes per entry, no JS object per
 * interaction. `toCoo` returns views trimmed to the entries pushed.
 */
export class CooBuilder {
  private rows: Int32Array;
  private cols: Int32Array;
  private data: Float32Array;
  private n = 0;

  constructor(initialCapacity = 1024) {
    const capacity = Math.max(16, initialCapacity);
    this.rows = new Int32Array(capacity);
    this.cols = new Int32Array(capacity);
    this.data = new Float32Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  push(row: number, col: number, value: number): void {
    if (this.n === this.rows.length) this.grow();
    this.rows[this.n] = row;
    this.cols[this.n] = col;
    this.data[this.n] = value;
    this.n++;
  }

  private grow(): void {
    const capacity = this.rows.length * 2;
    const rows = new Int32Array(capacity);
    const cols = new Int32Array(capacity);
    const data = new Float32Array(capacity);
    rows.set(this.rows);
    cols.set(this.cols);
    data.set(this.data);
    this.rows = rows;
    this.cols = cols;
    this.data = data;
  }

  /** Renumbers the rows: row r becomes map[r]. */
  remapRows(map: Int32Array): void {
    for (let i = 0; i < this.n; i++) this.rows[i] = map[this.rows[i]];
  }

  toCoo(nRows: number, nCols: number): CooMatrix {
    return {
      nRows,
      nCols,
      rows: this.rows.subarray(0, this.n),
      cols: this.cols.subarray(0, this.n),
      data: this.data.subarray(0, this.n),
    };
  }
}

/** Dense indices for string ids, in first-seen order. */
export class IdIndex {
  private readonly index = new Map<string, number>();
  readonly ids: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  /** The id's index, adding it if new. */
  intern(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }

  /** The id's index, or -1 if unknown. */
  get(id: string): number {
    return this.index.get(id) ?? -1;
  }

  static from(ids: readonly string[]): IdIndex {
    const index = new IdIndex();
    for (const id of ids) index.intern(id);
    return index;
  }
}
