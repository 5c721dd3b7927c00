/** A queue worker's thread: runs the comparison runs it is sent (executeRun), one at a time. */
import { parentPort } from 'node:worker_threads';
import { executeRun } from './execute.js';
import type { RunSpec } from './jobs.js';

if (!parentPort) throw new Error('cimm: queue/thread.js must run in a worker thread');
const port = parentPort;
port.on('message', (spec: RunSpec) => {
  executeRun(spec).then(
    (value) => port.postMessage({ ok: true, value }),
    (e) => port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
