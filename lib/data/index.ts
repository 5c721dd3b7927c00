/** Your own data: a CSV read with csv-parse, planned, split, standardized, trained on and predicted (docs: README, "Train on your own CSV"). */
export { type CsvRecords, parseCsvRecords } from './csv.js';
export {
  type LoadedModel,
  loadModelFile,
  MODEL_FORMAT,
  MODEL_VERSION,
  type ModelFile,
  modelFileBody,
  predictTable,
  saveModelFile,
  type TrainingSummary,
} from './model-file.js';
export {
  type CategoricalFeature,
  type ColumnPlan,
  type ColumnPlanOptions,
  type Decoded,
  decodeOutputs,
  type Encoded,
  encodeTable,
  type Feature,
  fitPreprocessing,
  type NumericFeature,
  type Preprocessing,
  planColumns,
  readTable,
  readTableFile,
  type Scores,
  score as scorePredictions,
  splitRows,
  TASK_KINDS,
  type Table,
  type TaskKind,
} from './table.js';
export { type ModelSpec, parseModelSpec, type TrainCsvOptions, type TrainCsvResult, trainCsv } from './train-csv.js';
