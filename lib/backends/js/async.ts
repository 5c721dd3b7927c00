/**
 * The js backend's async kernels (lib/kernels.ts AsyncKernels): the reference kernels
 * themselves, run on the main thread in chunks of about CHUNK_WORK operations with a
 * macrotask (setImmediate) before each chunk, so timers and I/O run between chunks and an
 * abort takes effect at the next one. The inputs are copied during the call, as on the
 * native backends, because the chunks run after the call has returned. Every chunk boundary
 * falls where the reference's result does not depend on it (whole rows of C, whole elements
 * of r, whole flow steps), so the results are bit-identical to the sync kernels.
 */
import { abortable } from '../../async.js';
import type { AsyncKernels, EnergyFlowRunResult, Kernels } from '../../kernels.js';
import { localEnergy } from './energy.js';
import { energyFlowStep } from './flow.js';
import { MB, matmul } from './linalg.js';

/** Operations (multiply-adds, prime-series terms, grid cells) per chunk: a few ms of JS. */
const CHUNK_WORK = 1 << 22;

/** A macrotask boundary: pending timers and I/O callbacks run before the promise resolves. */
const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `chunks` chunk by chunk, each after a macrotask, until it is done or `stopped()`. */
async function inChunks(chunks: number, run: (chunk: number) => void, stopped: () => boolean): Promise<void> {
  for (let i = 0; i < chunks; i++) {
    await nextMacrotask();
    if (stopped()) return;
    run(i);
  }
}

/** An op(X) of `rows` × `cols` stored transposed (cols × rows) copied into row-major order. */
function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) out[i * cols + j] = x[j * rows + i];
  return out;
}

/** The sync kernels a chunked async implementation runs, chunk by chunk. */
export type ChunkKernels = Pick<Kernels, 'matmul' | 'localEnergy' | 'energyFlowStep'>;

/**
 * The async kernels over `sync`, chunked as above: the js backend's over the reference, and the
 * wasm backend's over its module (one thread there too, and results bit-identical to its sync
 * kernels for the same reasons).
 */
export function chunkedAsyncKernels(sync: ChunkKernels): AsyncKernels {
  const { matmul, localEnergy, energyFlowStep } = sync;
  return {
    matmulAsync(params, a, b, c, signal) {
      const { transA, transB, m, n, k, alpha, beta } = params;
      // op(A) and op(B) copied in row-major order: then a chunk of rows of op(A) is a
      // contiguous subarray, and the reference sums each entry of C exactly as for the whole.
      const opA = transA ? transposed(a, m, k) : a.slice();
      const opB = transB ? transposed(b, k, n) : b.slice();
      const out = beta !== 0 && c !== undefined ? c.slice() : new Float32Array(m * n);
      // Whole tiles of MB rows per chunk (a partial tile reuses each panel of B for fewer rows).
      const rows = MB * Math.max(1, Math.floor(CHUNK_WORK / MB / Math.max(1, n * k)));
      let stopped = false;
      return abortable(
        signal,
        'matmulAsync',
        async () => {
          await inChunks(
            Math.ceil(m / rows),
            (chunk) => {
              const i0 = chunk * rows;
              const r = Math.min(rows, m - i0);
              const cRows = out.subarray(i0 * n, (i0 + r) * n);
              matmul(
                { transA: false, transB: false, m: r, n, k, alpha, beta },
                opA.subarray(i0 * k, (i0 + r) * k),
                opB,
                cRows,
              );
            },
            () => stopped,
          );
          return out;
        },
        () => {
          stopped = true;
        },
      );
    },

    localEnergyAsync(r, primeCount, signal) {
      const rs = r.slice();
      const out = new Float64Array(rs.length);
      const per = Math.max(1, Math.floor(CHUNK_WORK / Math.max(1, primeCount)));
      let stopped = false;
      return abortable(
        signal,
        'localEnergyAsync',
        async () => {
          await inChunks(
            Math.ceil(rs.length / per),
            (chunk) => {
              const i0 = chunk * per;
              const i1 = Math.min(rs.length, i0 + per);
              localEnergy(rs.subarray(i0, i1), primeCount, out.subarray(i0, i1));
            },
            () => stopped,
          );
          return out;
        },
        () => {
          stopped = true;
        },
      );
    },

    energyFlowRunAsync(energy, potential, source, nx, ny, params, kappas, signal) {
      const grids = { energy: energy.slice(), previous: energy.slice() };
      const psi = potential.slice();
      const src = source.slice();
      const ks = kappas.slice();
      const step = { ...params, kappa: 0 };
      const perChunk = Math.max(1, Math.floor(CHUNK_WORK / Math.max(1, nx * ny)));
      let stopped = false;
      return abortable(
        signal,
        'energyFlowRunAsync',
        async (): Promise<EnergyFlowRunResult> => {
          await inChunks(
            Math.ceil(ks.length / perChunk),
            (chunk) => {
              const end = Math.min(ks.length, (chunk + 1) * perChunk);
              for (let s = chunk * perChunk; s < end; s++) {
                step.kappa = ks[s];
                energyFlowStep(grids.energy, psi, src, nx, ny, step, grids.previous);
                [grids.energy, grids.previous] = [grids.previous, grids.energy];
              }
            },
            () => stopped,
          );
          return grids;
        },
        () => {
          stopped = true;
        },
      );
    },
  };
}

export const jsAsyncKernels: AsyncKernels = chunkedAsyncKernels({ matmul, localEnergy, energyFlowStep });
