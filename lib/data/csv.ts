/**
 * CSV text → header and records, through csv-parse (RFC 4180: quoted fields holding commas,
 * line breaks and doubled quotes; CRLF or LF; a BOM; blank lines skipped), never by
 * splitting on commas. Each record keeps the 1-based line of the file where it starts, so
 * every later error can name it. Fields are trimmed of the spaces around them (outside the
 * quotes), as a hand-written `a, b, "c"` expects.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { CimmDataError } from '../errors.js';

/** One parsed file: its header and its records, each with the line it starts on. */
export interface CsvRecords {
  /** Name used in messages (the path as given). */
  source: string;
  header: string[];
  /** The header's line (1 unless blank lines precede it). */
  headerLine: number;
  records: string[][];
  /** records[i] starts on line lines[i] of the file. */
  lines: number[];
}

/**
 * The line each record starts on. csv-parse's own `info.lines` is the line a record ends on,
 * and it counts a CRLF inside a quoted field as two lines; `info.bytes` (the UTF-8 offset
 * after the record, BOM included) is exact. So: walk the bytes from one record's end to the
 * next record's first byte, skipping blank lines, counting CRLF, LF and CR as one break each.
 */
function startLines(text: string, ends: readonly number[]): number[] {
  const buf = Buffer.from(text, 'utf8');
  let pos = 0;
  let line = 1;
  const step = () => {
    const c = buf[pos];
    if (c === 0x0d) {
      line++;
      if (buf[pos + 1] === 0x0a) pos++;
    } else if (c === 0x0a) line++;
    pos++;
  };
  const starts: number[] = [];
  let from = 0;
  for (const end of ends) {
    while (pos < from) step();
    while (pos < end && (buf[pos] === 0x0d || buf[pos] === 0x0a)) step();
    starts.push(line);
    from = end;
  }
  return starts;
}

/**
 * Parse CSV text. Records may have any number of fields (the caller decides what a short or
 * long row means: `table.ts` rejects it, naming the row and the missing column). An empty
 * file, or text that is not CSV (a quote never closed, a quote in the middle of a field),
 * is a CimmDataError naming the source and the line.
 */
export function parseCsvRecords(text: string, source: string): CsvRecords {
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof parsed;
  } catch (e) {
    const error = e as Error & { lines?: number };
    throw new CimmDataError(`cimm: ${source} is not valid CSV: ${error.message}`, [
      { line: error.lines ?? 0, reason: error.message },
    ]);
  }
  if (parsed.length === 0) throw new CimmDataError(`cimm: ${source} is empty (expected a header line and rows)`);
  const lines = startLines(
    text,
    parsed.map((p) => p.info.bytes),
  );
  return {
    source,
    header: parsed[0].record,
    headerLine: lines[0],
    records: parsed.slice(1).map((p) => p.record),
    lines: lines.slice(1),
  };
}

/**
 * Rows of text fields as RFC 4180 CSV, LF line ends: csv-stringify (the same project as
 * csv-parse) quotes a field holding a comma, a quote or a line break and doubles its quotes.
 * Wrapped, not re-exported: the declarations a consumer type-checks name no csv-stringify
 * type (those need @types/node).
 */
export function stringifyCsv(rows: readonly (readonly string[])[]): string {
  return stringify(rows as string[][]);
}
