/** The `rust` backend: the napi-rs addon built from crate/ (`npm run build:rust`). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ActivationName, Kernels } from '../kernels.js';
import { packageRoot } from '../paths.js';
import { withNativeErrors } from './native.js';

/** The addon's exports, as crate/index.d.cts declares them. */
interface RustAddon {
  localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void;
  nonlocalEnergy(
    x: Float32Array,
    y: Float32Array,
    points: Float32Array,
    lengthScale: number,
    softening: number,
  ): number;
  distance(x: Float32Array, y: Float32Array): number;
  fractalStep(z: Float32Array, offset: number, out: Float32Array): void;
  fractalStepBackward(z: Float32Array, gradOut: Float32Array, gradZ: Float32Array): void;
  maxAbs(x: Float32Array): number;
  copy(src: Float32Array, dst: Float32Array): void;
  matmul(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
  ): void;
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;
  dot(x: Float32Array, y: Float32Array): number;
  sum(x: Float32Array): number;
  activationForward(activation: number, x: Float32Array, shift: number, out: Float32Array): void;
  activationBackward(activation: number, y: Float32Array, gradOut: Float32Array, gradPre: Float32Array): void;
  cpuFeatures(): string[];
  simdPath(): string;
  threadCount(): number;
}

/** The addon's activation codes (crate/src/elementwise.rs `Activation::from_code`). */
const ACTIVATION_CODES: Record<ActivationName, number> = { identity: 0, tanh: 1, sigmoid: 2, relu: 3 };

/** Load the addon; throws the loader's error (with its chained causes) when it cannot. */
export function loadRustKernels(): Kernels {
  const require = createRequire(import.meta.url);
  const addon = require(join(packageRoot(), 'crate', 'index.cjs')) as RustAddon;
  const kernels: Kernels = {
    name: 'rust',
    describe: () => ({
      name: 'rust',
      simdPath: addon.simdPath(),
      cpuFeatures: addon.cpuFeatures(),
      threads: addon.threadCount(),
    }),
    localEnergy: addon.localEnergy,
    nonlocalEnergy: addon.nonlocalEnergy,
    distance: addon.distance,
    fractalStep: addon.fractalStep,
    fractalStepBackward: addon.fractalStepBackward,
    maxAbs: addon.maxAbs,
    copy: addon.copy,
    matmul: addon.matmul,
    axpby: addon.axpby,
    dot: addon.dot,
    sum: addon.sum,
    activationForward: (activation, x, shift, out) =>
      addon.activationForward(ACTIVATION_CODES[activation] ?? -1, x, shift, out),
    activationBackward: (activation, y, gradOut, gradPre) =>
      addon.activationBackward(ACTIVATION_CODES[activation] ?? -1, y, gradOut, gradPre),
  };
  return withNativeErrors(kernels);
}
