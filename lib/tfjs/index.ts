/**
 * `cimm/tfjs`: cimm's optimizers inside TensorFlow.js (docs/theory.md, "TensorFlow.js";
 * README, "Using cimm's optimizers in TensorFlow.js"). Needs the optional peer
 * `@tensorflow/tfjs-core` (and `@tensorflow/tfjs-layers` for `model.compile` / `model.fit`);
 * importing `cimm` itself never loads TensorFlow.js.
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { TfEntropyBalanced } from 'cimm/tfjs';
 *   model.compile({ optimizer: new TfEntropyBalanced(), loss: 'meanSquaredError' });
 *   await model.fit(xs, ys, { epochs: 10 });
 */
export { CimmTfOptimizer, TFJS_STATE_FORMAT, TFJS_STATE_VERSION } from './optimizer.js';
export { TfAdamW, TfEntropyBalanced, TfProdigy, TfQDT } from './optimizers.js';
export { CimmPeerError, loadTfjsCore, TFJS_PEERS } from './peer.js';
