/**
 * Atomic file writes for everything cimm saves (checkpoints, reports, benchmark results):
 * a temporary file in the same directory, fsync, rename over the target, then fsync of
 * the directory where the platform allows. A crash leaves the old file or the new one,
 * never a torn one. Binary parts of a JSON checkpoint go in as base64 (`base64Bytes`).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /**
   * Create the parent directory (recursively) when it is missing (default true). Writers
   * that checked their output path before the work started pass false, so nothing is
   * created that the user did not ask for.
   */
  createDirectory?: boolean;
}

/**
 * mkdir -p, one level at a time: Node's `mkdirSync(dir, { recursive: true })` spins for ever
 * under /proc (ENOENT from a directory that exists), in a synchronous loop that Ctrl-C
 * cannot stop. Here every level is created once, top down, so the loop is bounded by the
 * path's depth and a level that cannot be made throws its own error at once.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    let exists = false;
    try {
      statSync(d); // a file here: the mkdir below it fails with ENOTDIR
      exists = true;
    } catch {}
    if (exists || dirname(d) === d) break;
    missing.push(d);
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (error) {
      // another writer made it in the meantime
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Write `text` (or bytes) to `path` atomically, creating the parent directory if needed. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.createDirectory !== false) makeDirectory(dir);
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

/**
 * Whether writeFileAtomic can write `path`: creates and removes the temporary file it would
 * use (`.NAME.PID.tmp` beside it). Returns the error when it cannot (a read-only or
 * pseudo file system such as /proc, a directory without write permission), so a writer
 * can refuse the path before its work starts instead of at its first save.
 */
export function probeWritable(path: string): NodeJS.ErrnoException | undefined {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    closeSync(openSync(tmp, 'w'));
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  try {
    unlinkSync(tmp);
  } catch {}
  return undefined;
}

/** The bytes of a typed array (a view's own range, little-endian as in memory) as base64. */
export function base64Bytes(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}
