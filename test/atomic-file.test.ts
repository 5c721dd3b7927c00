/** writeFileAtomic (lib/atomic-file.ts): the target is the old file or the new one, never a torn one. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../lib/atomic-file.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cimm-atomic-'));

describe('writeFileAtomic', () => {
  it('writes text and bytes, overwrites, and leaves no temporary file', () => {
    const dir = tmp();
    const path = join(dir, 'a.json');
    writeFileAtomic(path, '{"a":1}');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}');
    writeFileAtomic(path, new Uint8Array([104, 105]));
    expect(readFileSync(path, 'utf8')).toBe('hi');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('creates missing parent directories', () => {
    const path = join(tmp(), 'x', 'y', 'z.txt');
    writeFileAtomic(path, 'deep');
    expect(readFileSync(path, 'utf8')).toBe('deep');
  });

  it('a large write arrives whole', () => {
    const path = join(tmp(), 'big.bin');
    const bytes = new Uint8Array(3_000_000).map((_, i) => i % 251);
    writeFileAtomic(path, bytes);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a failing rename (the target is a directory) throws and removes the temporary file', () => {
    const dir = tmp();
    const target = join(dir, 'taken');
    mkdirSync(target);
    expect(() => writeFileAtomic(target, 'nope')).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(statSync(target).isDirectory()).toBe(true);
  });
});
