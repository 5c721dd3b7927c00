/**
 * Sweeps and training jobs on BullMQ over Redis (docs/theory.md, "Scale-out"): a
 * coordinator enqueues, workers on any number of machines run, results and checkpoints
 * persist in Redis (or a shared directory).
 */
export { CimmQueueError, checkRedis, displayUrl, KEY_PREFIX, QUEUE_NAME, redisOptions } from './connection.js';
export { type FailedRun, type QueueOutcome, type QueueRunOptions, runOnQueue } from './coordinator.js';
export { executeRun } from './execute.js';
export {
  COMPARE_RUN,
  canonicalJson,
  decodeNumbers,
  encodeNumbers,
  jobId,
  type RunSpec,
  runSpec,
  TRAIN,
} from './jobs.js';
export {
  type CheckpointStore,
  checkpointKey,
  checkpointStore,
  type SubmitTrainOptions,
  type SubmittedTrain,
  submitTrain,
  type TrainData,
} from './train.js';
export { type QueueWorker, type QueueWorkerOptions, startWorker } from './worker.js';
