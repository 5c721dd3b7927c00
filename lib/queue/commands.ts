/** The queue's parts the command line calls, in one module for loadQueue() (lib/queue/load.ts). */
export { trainArgs, withFailures, workerCommand } from './cli.js';
export { redisOptions } from './connection.js';
export { runOnQueue } from './coordinator.js';
export { checkpointStore, saveCheckpoint, submitTrain } from './train.js';
