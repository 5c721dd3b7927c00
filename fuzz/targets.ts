/** The target sets (kernels of one backend, the public API on one backend) and the call of (set, backend, seed, index). */
import { FACADE_TARGETS } from './facade.js';
import { KERNEL_TARGETS } from './kernels.js';
import { type CallRecord, generateCall, type TargetSpec } from './plan.js';

export const TARGET_SETS = { kernels: KERNEL_TARGETS, facade: FACADE_TARGETS } as const satisfies Record<
  string,
  Record<string, TargetSpec>
>;
export type TargetSetName = keyof typeof TARGET_SETS;

/**
 * The js kernels trust the facade (lib/kernels.ts: "the js ones trust it"), so on js the
 * kernel set gets valid calls and layout changes only; its hostile input goes through the
 * facade set. Every other backend's kernels check what memory safety needs and get everything.
 */
export function mutates(set: TargetSetName, backend: string): boolean {
  return !(set === 'kernels' && backend === 'js');
}

export function makeCall(set: TargetSetName, backend: string, seed: number, index: number): CallRecord {
  return generateCall(TARGET_SETS[set], { set, backend, seed, index, mutate: mutates(set, backend) });
}
