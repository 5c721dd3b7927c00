/** writeFileAtomic (lib/atomic-file.ts): the target is the old file or the new one, never a torn one. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { base64Bytes, writeFileAtomic } from '../lib/atomic-file.js';

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

describe('base64Bytes', () => {
  it("encodes only a view's own bytes, and decodes back to the same values", () => {
    const whole = Float32Array.from([1, -2.5, Number.NaN, 3e-38, 7]);
    const view = whole.subarray(1, 4);
    const bytes = Buffer.from(base64Bytes(view), 'base64');
    expect(bytes.length).toBe(12);
    const back = new Float32Array(Uint8Array.from(bytes).buffer); // a copy: Buffer's offset may not be 4-aligned
    expect(Array.from(back)).toEqual(Array.from(view));
    expect(base64Bytes(Uint8Array.from([0, 255]))).toBe('AP8=');
  });
});
