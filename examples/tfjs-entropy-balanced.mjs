// Train a TensorFlow.js layers model with cimm's entropy-balanced optimizer (cimm/tfjs).
//
//   npm install cimm @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-layers@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0
//   node examples/tfjs-entropy-balanced.mjs
//
// A small regression, y = sin(3·x₁) + ½·x₂² + noise, with a 2-32-32-1 dense net on
// TensorFlow.js's pure-JS CPU backend. model.fit calls optimizer.minimize(loss) each batch;
// cimm's optimizer gets the variables, their gradients and the batch's loss, and sets the
// learning rate where the energy an update spends balances the information it gains (seed
// 000 §3). The updates run on cimm's fastest backend (rust, cpp or js; CIMM_BACKEND=js
// forces the reference).
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { backendInfo } from 'cimm';
import { TfEntropyBalanced } from 'cimm/tfjs';

tf.env().set('IS_TEST', true); // silence the CPU backend's "install tfjs-node" notice
await tf.setBackend('cpu');

const data = (n, seed) =>
  tf.tidy(() => {
    const x = tf.randomUniform([n, 2], -1, 1, 'float32', seed);
    const [x1, x2] = tf.split(x, 2, 1);
    const noise = tf.randomNormal([n, 1], 0, 0.05, 'float32', seed + 1);
    return { x, y: tf.addN([tf.sin(tf.mul(x1, 3)), tf.mul(tf.square(x2), 0.5), noise]) };
  });
const train = data(512, 1);
const test = data(256, 2);

const model = tfl.sequential({
  layers: [
    tfl.layers.dense({ inputShape: [2], units: 32, activation: 'tanh' }),
    tfl.layers.dense({ units: 32, activation: 'tanh' }),
    tfl.layers.dense({ units: 1 }),
  ],
});
const optimizer = new TfEntropyBalanced({ learningRate: 1e-3 });
model.compile({ optimizer, loss: 'meanSquaredError' });

console.log(`cimm backend: ${backendInfo().name}`);
await model.fit(train.x, train.y, {
  epochs: 60,
  batchSize: 32,
  verbose: 0,
  callbacks: {
    onEpochEnd: async (epoch, logs) => {
      if ((epoch + 1) % 10 !== 0) return;
      const eta = optimizer.cimm.lastReport?.eta ?? Number.NaN;
      console.log(`epoch ${String(epoch + 1).padStart(2)}  loss ${logs.loss.toFixed(4)}  η ${eta.toExponential(2)}`);
    },
  },
});
const testLoss = model.evaluate(test.x, test.y).dataSync()[0];
console.log(`test loss ${testLoss.toFixed(4)} (the noise alone gives 0.0025)`);
