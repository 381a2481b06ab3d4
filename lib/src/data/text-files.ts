import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { InvalidArgumentError, NotFoundError } from '../errors.js';

/**
 * Reading the text files of the importers: encoding detection, line-numbered CSV records (csv-parse, RFC 4180:
 * quoted fields with commas, doubled quotes, CRLF) and plain lines (the MovieLens 100k `|`/tab files).
 */

/** `auto` decides per file: valid UTF-8 is read as UTF-8, anything else as Latin-1 (ISO 8859-1). */
export type TextEncodingOption = 'auto' | 'utf8' | 'latin1';
export const TEXT_ENCODINGS: readonly TextEncodingOption[] = ['auto', 'utf8', 'latin1'];

export function parseEncoding(value: string | undefined, what = 'encoding'): TextEncodingOption {
  if (value === undefined || value === '') return 'auto';
  const v = value.toLowerCase().replace('-', '');
  if (v === 'utf8' || v === 'latin1' || v === 'auto') return v;
  if (v === 'iso88591') return 'latin1';
  throw new InvalidArgumentError(`${what} must be one of ${TEXT_ENCODINGS.join(', ')}, got '${value.slice(0, 32)}'`);
}

/**
 * Where a file is not valid UTF-8: the 1-based line of the first invalid byte sequence, or null when the whole file
 * is valid UTF-8. Streams the file (bounded memory).
 */
export async function firstInvalidUtf8Line(path: string): Promise<number | null> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      // Locate the line: count newlines up to the first byte that cannot start or continue a valid sequence here.
      const text = chunk.toString('latin1');
      const bad = firstInvalidUtf8Offset(chunk);
      for (let i = 0; i < bad; i++) if (text.charCodeAt(i) === 10) line++;
      return line;
    }
    for (const byte of chunk) if (byte === 10) line++;
  }
  try {
    decoder.decode();
  } catch {
    return line;
  }
  return null;
}

function firstInvalidUtf8Offset(buf: Buffer): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0) return i;
    for (let k = 1; k < len; k++) {
      if (i + k >= buf.length) return i; // cut at the chunk end: close enough for a line number
      if ((buf[i + k] & 0xc0) !== 0x80) return i;
    }
    i += len;
  }
  return buf.length;
}

/**
 * The encoding to read a file with. `auto`: UTF-8 when the file is valid UTF-8, else Latin-1 (every byte sequence is
 * Latin-1, and Latin-1 text with accents is practically never valid UTF-8). `utf8` on a file that is not valid UTF-8
 * is an error naming the line (never silently garbled: reading Latin-1 as UTF-8 would turn "Misérables" into
 * "Mis\uFFFDrables").
 */
export async function resolveEncoding(path: string, option: TextEncodingOption, label: string): Promise<'utf8' | 'latin1'> {
  if (option === 'latin1') return 'latin1';
  const badLine = await firstInvalidUtf8Line(path);
  if (badLine === null) return 'utf8';
  if (option === 'auto') return 'latin1';
  throw new InvalidArgumentError(
    `${label} line ${badLine}: not valid UTF-8 (declared --encoding utf8); the file looks like Latin-1: use --encoding latin1 or auto`,
  );
}

export async function mustBeFile(path: string, hint: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidArgumentError(`${path} is not a file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${path} not found: ${hint}`);
    throw err;
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Non-blank lines with their 1-based line numbers. */
export async function* readLines(path: string, encoding: 'utf8' | 'latin1'): AsyncGenerator<{ line: string; lineNo: number }> {
  const reader = createInterface({ input: createReadStream(path, { encoding }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of reader) {
    lineNo++;
    const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.trim() !== '') yield { line, lineNo };
  }
}

/**
 * CSV records (arrays of fields) with the 1-based line each record starts on; empty lines are skipped, a UTF-8 BOM
 * is dropped. A malformed record (an unclosed quote, a stray quote in an unquoted field, a different field count than
 * the header) is an InvalidArgumentError naming the file label and the line.
 */
export async function* readCsv(path: string, encoding: 'utf8' | 'latin1', label: string): AsyncGenerator<{ fields: string[]; lineNo: number }> {
  const parser = createReadStream(path).pipe(
    parse({ encoding, bom: true, skip_empty_lines: true, info: true, relax_column_count: false }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { fields: record, lineNo: info.lines };
    }
  } catch (err) {
    const e = err as { code?: string; lines?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      const reason = e.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' ? 'a different number of fields than the header' : csvReason(e.message ?? e.code);
      throw new InvalidArgumentError(`${label} line ${e.lines ?? '?'}: malformed CSV: ${reason}`);
    }
    throw err;
  } finally {
    parser.destroy();
  }
}

function csvReason(message: string): string {
  return message.replace(/^Invalid (Opening|Closing) Quote: /, '').replace(/ at line \d+.*$/, '').slice(0, 200);
}

/**
 * The lines of a file in batches (one per chunk read, about 64 KB): `lines[i]` is line `firstLineNo + i`, blank lines
 * included (as ''), a trailing '\r' and a leading UTF-8 BOM removed. One await per batch instead of one per line:
 * the per-line async iteration of readline costs more than the parsing on files of millions of lines.
 */
export async function* readLineBatches(path: string, encoding: 'utf8' | 'latin1'): AsyncGenerator<{ lines: string[]; firstLineNo: number }> {
  let rest = '';
  let lineNo = 1;
  let first = true;
  for await (const chunk of createReadStream(path, { encoding, highWaterMark: 1 << 16 }) as AsyncIterable<string>) {
    const text = rest + (first ? chunk.replace(/^\uFEFF/, '') : chunk);
    first = false;
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (let i = 0; i < lines.length; i++) if (lines[i].endsWith('\r')) lines[i] = lines[i].slice(0, -1);
    if (lines.length) {
      yield { lines, firstLineNo: lineNo };
      lineNo += lines.length;
    }
  }
  if (rest.endsWith('\r')) rest = rest.slice(0, -1);
  if (rest !== '') yield { lines: [rest], firstLineNo: lineNo };
}

/**
 * The records of a CSV file whose fields hold no line breaks (MovieLens ratings.csv: numbers only), in batches, split
 * at commas: several times as fast as the streaming parser (on 2M ratings: 3 s to split the lines, 22 s with
 * csv-parse, here). A line with a quote character is parsed by csv-parse (RFC 4180), so quoted fields still read
 * right. The header is the first record; every record must have as many fields as the header.
 */
export async function* readPlainCsvBatches(path: string, label: string): AsyncGenerator<{ rows: string[][]; lineNos: number[] }> {
  let width = -1;
  for await (const { lines, firstLineNo } of readLineBatches(path, 'utf8')) {
    const rows: string[][] = [];
    const lineNos: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line === '' || line.trim() === '') continue;
      const lineNo = firstLineNo + i;
      let fields: string[];
      if (line.includes('"')) {
        try {
          const records = parseSync(line, { relax_column_count: true }) as string[][];
          if (records.length !== 1) throw new Error('a record must fit on one line');
          fields = records[0];
        } catch (err) {
          throw new InvalidArgumentError(`${label} line ${lineNo}: malformed CSV: ${csvReason((err as Error).message)}`);
        }
      } else {
        fields = line.split(',');
      }
      if (width === -1) width = fields.length;
      else if (fields.length !== width) {
        throw new InvalidArgumentError(`${label} line ${lineNo}: malformed CSV: ${fields.length} fields where the header has ${width}`);
      }
      rows.push(fields);
      lineNos.push(lineNo);
    }
    if (rows.length) yield { rows, lineNos };
  }
}
