/** A comparison worker thread: runs the jobs it is sent, one at a time, and posts results. */
import { parentPort } from 'node:worker_threads';
import '../index.js';
import { runJob } from './run.js';
import type { Job } from './spec.js';

if (!parentPort) throw new Error('cimm: compare/worker.js must run in a worker thread');
const port = parentPort;
port.on('message', (job: Job) => {
  try {
    port.postMessage({ ok: true, result: runJob(job) });
  } catch (e) {
    port.postMessage({ ok: false, id: job.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
