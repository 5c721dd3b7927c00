/**
 * The queue's code, imported on first use. BullMQ and ioredis are optional peer
 * dependencies (like vega for the plots): a user who never runs a queue does not install
 * them, and `cimm` without them works as before; `--queue` and `cimm worker` then say how
 * to get them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

const QUEUE_LIBRARIES = ['bullmq', 'ioredis'] as const;

/** `npm install bullmq@… ioredis@…` with the ranges package.json declares. */
export function queueInstallCommand(): string {
  let peers: Record<string, string> = {};
  try {
    peers = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).peerDependencies ?? {};
  } catch {}
  return `npm install ${QUEUE_LIBRARIES.map((p) => (peers[p] ? `${p}@${peers[p]}` : p)).join(' ')}`;
}

/** Thrown when bullmq or ioredis is not installed. */
export class QueueLibrariesMissing extends Error {
  readonly code = 'ERR_CIMM_QUEUE_LIBRARIES';
  constructor(cause: unknown) {
    super(`the queue needs the optional peer dependencies bullmq and ioredis: ${queueInstallCommand()}`, { cause });
    this.name = 'QueueLibrariesMissing';
  }
}

/** What the command line uses of the queue (lib/queue/commands.ts), once it is loaded. */
export async function loadQueue(): Promise<typeof import('./commands.js')> {
  try {
    return await import('./commands.js');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message ?? '';
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      QUEUE_LIBRARIES.some((p) => message.includes(`'${p}'`))
    )
      throw new QueueLibrariesMissing(error);
    throw error;
  }
}
