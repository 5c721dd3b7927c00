/**
 * Atomic file writes for everything cimm saves (checkpoints, reports, benchmark results):
 * a temporary file in the same directory, fsync, rename over the target, then fsync of
 * the directory where the platform allows. A crash leaves the old file or the new one,
 * never a torn one. Binary parts of a JSON checkpoint go in as base64 (`base64Bytes`).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /**
   * Create the parent directory (recursively) when it is missing (default true). Writers
   * that checked their output path before the work started pass false, so nothing is
   * created that the user did not ask for.
   */
  createDirectory?: boolean;
}

/** Write `text` (or bytes) to `path` atomically, creating the parent directory if needed. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.createDirectory !== false) mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'w');
  try {
    // writeSync may write less than asked; loop until every byte is down
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw error;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directories cannot be opened for fsync on every platform (Windows); the rename stands.
  }
}

/** The bytes of a typed array (a view's own range, little-endian as in memory) as base64. */
export function base64Bytes(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}
