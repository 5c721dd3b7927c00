/**
 * The embedded CSV files (data/), parsed with csv-parse (RFC 4180: quoted fields with
 * commas, doubled quotes, CRLF or LF, a BOM), never by splitting on commas. Columns are
 * located by header name; numbers are read strictly (`Number`, finite) and every bad
 * field is reported with its line, in one CimmDataError.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvRecords } from '../data/csv.js';
import { type BadRow, CimmDataError } from '../errors.js';
import { packageRoot } from '../paths.js';

/** One parsed file: its records (header → text, fields trimmed) and the line each starts on. */
export interface CsvTable {
  source: string;
  records: Record<string, string>[];
  lines: number[];
}

/**
 * Parse CSV text whose header must name every column in `required`: lib/data's reader (one
 * csv-parse configuration for the library; each record keeps the line it starts on), with
 * every row as long as the header.
 */
export function parseCsv(text: string, source: string, required: readonly string[]): CsvTable {
  const { header, records, lines } = parseCsvRecords(text, source);
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length)
    throw new CimmDataError(`cimm: ${source} lacks the column(s) ${missing.join(', ')} (has ${header.join(', ')})`, []);
  const ragged = records.findIndex((r) => r.length !== header.length);
  if (ragged >= 0) {
    const reason = `${records[ragged].length} fields where the header has ${header.length}`;
    throw new CimmDataError(`cimm: ${source} line ${lines[ragged]}: ${reason}`, [{ line: lines[ragged], reason }]);
  }
  return { source, records: records.map((r) => Object.fromEntries(header.map((c, n) => [c, r[n]]))), lines };
}

/** Read and parse data/<file> from the package root. */
export function readDataCsv(file: string, required: readonly string[]): CsvTable {
  const source = join('data', file);
  return parseCsv(readFileSync(join(packageRoot(), source), 'utf8'), source, required);
}

/**
 * Numeric columns of a table, strictly: a field that is empty, not a number or not finite
 * is a bad row. Throws one CimmDataError listing every bad row (line and reason).
 */
export function numericColumns(table: CsvTable, columns: readonly string[]): Float64Array[] {
  const out = columns.map(() => new Float64Array(table.records.length));
  const bad: BadRow[] = [];
  table.records.forEach((r, i) => {
    columns.forEach((c, j) => {
      const text = r[c].trim();
      const v = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(v)) bad.push({ line: table.lines[i], reason: `${c} is ${JSON.stringify(r[c])}` });
      out[j][i] = v;
    });
  });
  if (bad.length) {
    const shown = bad
      .slice(0, 5)
      .map((b) => `line ${b.line}: ${b.reason}`)
      .join('; ');
    throw new CimmDataError(
      `cimm: ${table.source} has ${bad.length} bad field(s): ${shown}${bad.length > 5 ? '; …' : ''}`,
      bad,
    );
  }
  return out;
}
