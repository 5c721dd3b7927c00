/**
 * Bench case for the models (docs/theory.md, "Models and trainer"): one full MLP training
 * step — forward, softmax cross-entropy and its gradient, backward, an Adam step — per
 * backend. The layers are pinned to the backend; the optimizer runs on the active backend,
 * so each run selects it (setBackend is a table lookup) and restores the previous one.
 *
 * Agreement: the first step's loss from identical initial parameters (same seed) agrees
 * with js to 1e-4 relative (f32 GEMMs of 784 terms in different orders).
 */
import { backendInfo, setBackend } from '../../lib/backend.js';
import type { BackendName } from '../../lib/kernels.js';
import { SoftmaxCrossEntropy } from '../../lib/nn/losses.js';
import { mlp } from '../../lib/nn/sequential.js';
import { Adam } from '../../lib/optim/adam.js';
import type { BenchCase } from '../harness.js';
import { type BackendList, checkScalar, uniformF32 } from './common.js';

const SIZES: [sizes: number[], batch: number][] = [
  [[64, 128, 128, 10], 32],
  [[784, 512, 512, 10], 128],
];

export function nnCases(backends: BackendList): BenchCase[] {
  return SIZES.map(([sizes, batch]) => {
    const x = uniformF32(batch * sizes[0], 1, 0, 1);
    const labels = Float32Array.from({ length: batch }, (_, i) => (i * 7) % sizes[sizes.length - 1]);
    return {
      kernel: 'mlpTrainStep',
      size: `${sizes.join('-')},batch=${batch}`,
      check: checkScalar(1e-4),
      contenders: backends.map((k) => {
        const model = mlp(sizes, { activation: 'relu', seed: 1, kernels: k });
        const optimizer = new Adam({ learningRate: 1e-4 });
        const loss = new SoftmaxCrossEntropy();
        const grad = new Float32Array(batch * sizes[sizes.length - 1]);
        return {
          backend: k.name,
          run: () => {
            const previous = backendInfo().name as BackendName;
            setBackend(k.name as BackendName);
            const value = loss.evaluate(model.forward(x, batch), labels, batch, grad);
            model.backward(grad);
            optimizer.step(model.params, model.grads);
            setBackend(previous);
            return value;
          },
        };
      }),
    };
  });
}
