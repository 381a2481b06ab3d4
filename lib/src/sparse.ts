/**
 * Sparse interaction matrices shared by the models, the evaluation module and the training pipeline.
 * CSR rows are users (or items for the transposed matrix); all arrays are read in place by the native core.
 */
export interface CsrMatrix {
  readonly nRows: number;
  readonly nCols: number;
  /** Length nRows + 1; row r spans indices[indptr[r] .. indptr[r+1]). */
  readonly indptr: Int32Array;
  /** Column ids, sorted ascending within each row, no duplicates. */
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/** Coordinate-form interactions; duplicates of (row, col) are summed when converted to CSR. */
export interface CooMatrix {
  readonly nRows: number;
  readonly nCols: number;
  readonly rows: Int32Array;
  readonly cols: Int32Array;
  readonly data: Float32Array;
}

/** Builds CSR from COO in O(nnz + nRows): counting sort by row, then by column within a row, summing duplicates. */
export function cooToCsr(coo: CooMatrix): CsrMatrix {
  const { nRows, nCols, rows, cols, data } = coo;
  const n = rows.length;
  if (cols.length !== n || data.length !== n) throw new RangeError('rows, cols and data must have the same length');
  const counts = new Int32Array(nRows + 1);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const c = cols[i];
    if (r < 0 || r >= nRows) throw new RangeError(`row ${r} out of range [0, ${nRows})`);
    if (c < 0 || c >= nCols) throw new RangeError(`column ${c} out of range [0, ${nCols})`);
    counts[r + 1]++;
  }
  for (let r = 0; r < nRows; r++) counts[r + 1] += counts[r];
  const next = counts.slice(0, nRows);
  const byRowCols = new Int32Array(n);
  const byRowData = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = next[rows[i]]++;
    byRowCols[at] = cols[i];
    byRowData[at] = data[i];
  }
  // Sort each row by column and merge duplicates.
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(n);
  const values = new Float32Array(n);
  let out = 0;
  const order: number[] = [];
  for (let r = 0; r < nRows; r++) {
    const start = counts[r];
    const end = counts[r + 1];
    order.length = 0;
    for (let i = start; i < end; i++) order.push(i);
    order.sort((a, b) => byRowCols[a] - byRowCols[b]);
    let last = -1;
    for (const i of order) {
      const c = byRowCols[i];
      if (c === last) {
        values[out - 1] += byRowData[i];
      } else {
        indices[out] = c;
        values[out] = byRowData[i];
        out++;
        last = c;
      }
    }
    indptr[r + 1] = out;
  }
  return { nRows, nCols, indptr, indices: indices.slice(0, out), data: values.slice(0, out) };
}

/** The transpose (item-user matrix from a user-item matrix), rows sorted. */
export function transposeCsr(m: CsrMatrix): CsrMatrix {
  const nnz = m.indices.length;
  const indptr = new Int32Array(m.nCols + 1);
  for (let i = 0; i < nnz; i++) indptr[m.indices[i] + 1]++;
  for (let c = 0; c < m.nCols; c++) indptr[c + 1] += indptr[c];
  const next = indptr.slice(0, m.nCols);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  for (let r = 0; r < m.nRows; r++) {
    for (let i = m.indptr[r]; i < m.indptr[r + 1]; i++) {
      const at = next[m.indices[i]]++;
      indices[at] = r;
      data[at] = m.data[i];
    }
  }
  return { nRows: m.nCols, nCols: m.nRows, indptr, indices, data };
}

/** The column ids of one row (a view, not a copy). */
export function rowIndices(m: CsrMatrix, row: number): Int32Array {
  return m.indices.subarray(m.indptr[row], m.indptr[row + 1]);
}

/** The values of one row (a view, not a copy). */
export function rowData(m: CsrMatrix, row: number): Float32Array {
  return m.data.subarray(m.indptr[row], m.indptr[row + 1]);
}
