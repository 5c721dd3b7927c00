/**
 * TEMPORARY, removed when every backend takes the options objects itself: the kernels whose
 * scalars moved into one options object (lib/kernels.ts) over a backend that still takes
 * them positionally. Each wrapper reads every field once, in the order the positional
 * kernel took them.
 */
import type { Kernels } from '../kernels.js';

export const OPTIONS_KERNELS = [
  'sgdStep',
  'adamStep',
  'prodigyAccumulate',
  'prodigyUpdate',
  'matmul',
  'coupling',
  'scaleTransition',
  'nonlocalEnergy',
  'updateEnergy',
  'laplacian',
] as const;
export type OptionsKernel = (typeof OPTIONS_KERNELS)[number];

// biome-ignore lint/suspicious/noExplicitAny: the old positional signatures are not typed any more
type Positional = (...args: any[]) => any;
export type PositionalKernels<K> = Omit<K, OptionsKernel> & Record<OptionsKernel, Positional>;

/** `kernels` with the options-object signatures, over positional ones. */
export function withOptionObjects<K extends Partial<Kernels>>(kernels: PositionalKernels<K>): K {
  const k = kernels as unknown as Record<OptionsKernel, Positional>;
  const adapted: Pick<Kernels, OptionsKernel> = {
    sgdStep: (p, g, b, o) =>
      k.sgdStep(p, g, b, o.learningRate, o.momentum, o.dampening, o.weightDecay, o.nesterov, o.maximize, o.firstStep),
    adamStep: (p, g, m, v, vMax, o) =>
      k.adamStep(
        p,
        g,
        m,
        v,
        vMax,
        o.beta1,
        o.beta2,
        o.stepSize,
        o.bc2Sqrt,
        o.epsilon,
        o.weightDecay,
        o.decay,
        o.amsgrad,
        o.maximize,
      ),
    prodigyAccumulate: (p, g, p0, m, v, s, o) =>
      k.prodigyAccumulate(
        p,
        g,
        p0,
        m,
        v,
        s,
        o.beta1,
        o.beta2,
        o.beta3,
        o.momentScale,
        o.varianceScale,
        o.sScale,
        o.weightDecay,
      ),
    prodigyUpdate: (p, m, v, o) => k.prodigyUpdate(p, m, v, o.stepSize, o.epsilon, o.decay),
    matmul: (o, a, b, c) => k.matmul(o.transA, o.transB, o.m, o.n, o.k, o.alpha, a, b, o.beta, c),
    coupling: (t, o, out) => k.coupling(t, o.alpha, o.beta, o.gamma, o.lambdaCosmo, out),
    scaleTransition: (t, o, out) => k.scaleTransition(t, o.scaleCoupling, o.criticalTime, out),
    nonlocalEnergy: (x, y, points, o) => k.nonlocalEnergy(x, y, points, o.lengthScale, o.softening),
    updateEnergy: (before, after, grads, metric, o, out) =>
      k.updateEnergy(before, after, grads, metric, o.metricScale, o.epsilon, out),
    laplacian: (energy, nx, ny, o, out) => k.laplacian(energy, nx, ny, o.h, o.boundary, out),
  };
  return { ...kernels, ...adapted } as unknown as K;
}
