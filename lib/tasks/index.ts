/** The validation tasks (seed 000 §4, design.md §4): one module per task, one registry. */
import { oneOf } from '../is.js';
import { CliffWalkingTask } from './gridworld.js';
import { type IrisOptions, IrisTask } from './iris.js';
import { type IrisFractalOptions, IrisFractalTask } from './iris-fractal.js';
import { type LeastSquaresOptions, LeastSquaresTask } from './least-squares.js';
import { type MnistOptions, MnistTask } from './mnist.js';
import { type ModularAdditionOptions, ModularAdditionTask } from './modular.js';
import { type MovieRatingsOptions, MovieRatingsTask } from './movies.js';
import { IllConditionedQuadraticTask, type QuadraticOptions } from './quadratic.js';
import { QuantumTomographyTask, type TomographyOptions } from './quantum-tomography.js';
import { type RosenbrockOptions, RosenbrockTask } from './rosenbrock.js';
import { type SeattleWeatherOptions, SeattleWeatherTask } from './seattle-weather.js';
import { type Sp500Options, Sp500Task } from './sp500.js';
import type { Task } from './task.js';

export { type CsvTable, numericColumns, parseCsv, readDataCsv } from './csv.js';
export {
  CliffWalking,
  CliffWalkingTask,
  type EntropyBalancedStepSizeOptions,
  type EntropyBalancedStepSizeRule,
  entropyBalancedStepSize,
  fixedStepSize,
  inverseVisitCount,
  QLearningAgent,
  type QLearningOptions,
  type StepSizeBalance,
  type ValueIterationResult,
  valueIteration,
} from './gridworld.js';
export { IRIS_DEFAULTS, type IrisOptions, type IrisSplit, IrisTask, irisData, irisSplit } from './iris.js';
export { IRIS_FRACTAL_DEFAULTS, type IrisFractalOptions, IrisFractalTask } from './iris-fractal.js';
export { LEAST_SQUARES_DEFAULTS, type LeastSquaresOptions, LeastSquaresTask } from './least-squares.js';
export {
  loadMnistDigits,
  MNIST_DEFAULTS,
  type MnistDigits,
  type MnistOptions,
  MnistTask,
  mnistPackageDir,
} from './mnist.js';
export {
  CHUNK,
  type ModelData,
  type ModelKind,
  ModelTask,
  type ModelTaskSpec,
  standardizeColumns,
  stratifiedSplit,
  TASK_ACTIVATIONS,
  type TaskActivation,
  taskModel,
} from './model-task.js';
export { MODULAR_DEFAULTS, type ModularAdditionOptions, ModularAdditionTask } from './modular.js';
export {
  LAST_YEAR,
  loadMovies,
  MOVIE_FEATURES,
  MOVIE_GENRES,
  MOVIE_RATINGS_DEFAULTS,
  type MovieRatingsOptions,
  MovieRatingsTask,
  type MovieRows,
  MPAA_RATINGS,
} from './movies.js';
export { IllConditionedQuadraticTask, QUADRATIC_DEFAULTS, type QuadraticOptions } from './quadratic.js';
export {
  bornProbabilities,
  compareMeasurementStrategies,
  expectation,
  type MeasurementRun,
  type MeasurementStrategy,
  type MeasurementStrategyOptions,
  maximumLikelihoodRrR,
  PAULI_LETTERS,
  pauliMeasurementVectors,
  pureDensity,
  QuantumTomographyTask,
  randomMixedState,
  randomPureState,
  runMeasurementStrategy,
  type StrategyComparison,
  sampleCounts,
  settingName,
  TOMOGRAPHY_DEFAULTS,
  type TomographyOptions,
  type TruthKind,
  uhlmannFidelity,
} from './quantum-tomography.js';
export { ROSENBROCK_DEFAULTS, type RosenbrockOptions, RosenbrockTask } from './rosenbrock.js';
export {
  loadSeattleWeather,
  SEATTLE_WEATHER_DEFAULTS,
  type SeattleWeatherOptions,
  SeattleWeatherTask,
  WEATHER_CLASSES,
  WEATHER_FEATURES,
  type WeatherDays,
} from './seattle-weather.js';
export {
  type ForecastScores,
  loadSp500,
  logReturns,
  type ParsePriceOptions,
  type PriceRow,
  type PriceSeries,
  parsePriceCsv,
  SP500_DEFAULTS,
  type Sp500Model,
  type Sp500Options,
  type Sp500Split,
  type Sp500Target,
  Sp500Task,
} from './sp500.js';
export {
  Batches,
  type EpisodeResult,
  type ObjectiveTask,
  type RlAgent,
  type RlAgentOptions,
  type RlTask,
  type StepSizeRule,
  type Task,
  type TaskTarget,
  targetReached,
  type Vector,
} from './task.js';

/** Registry names of the tasks. */
export const TASK_NAMES = [
  'modular-addition',
  'least-squares',
  'sp500',
  'quantum-tomography',
  'cliff-walking',
  'iris',
  'iris-fractal',
  'mnist',
  'movie-ratings',
  'seattle-weather',
  'rosenbrock',
  'ill-conditioned-quadratic',
] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** Options per task name. */
export interface TaskOptionsByName {
  'modular-addition': ModularAdditionOptions;
  'least-squares': LeastSquaresOptions;
  sp500: Sp500Options;
  'quantum-tomography': TomographyOptions;
  'cliff-walking': undefined;
  iris: IrisOptions;
  'iris-fractal': IrisFractalOptions;
  mnist: MnistOptions;
  'movie-ratings': MovieRatingsOptions;
  'seattle-weather': SeattleWeatherOptions;
  rosenbrock: RosenbrockOptions;
  'ill-conditioned-quadratic': QuadraticOptions;
}

/** Build a task by name (the comparison runner's and CLI's entry point). */
export function createTask<N extends TaskName>(name: N, options?: TaskOptionsByName[N]): Task {
  switch (oneOf('name', name, TASK_NAMES)) {
    case 'modular-addition':
      return new ModularAdditionTask(options as ModularAdditionOptions);
    case 'least-squares':
      return new LeastSquaresTask(options as LeastSquaresOptions);
    case 'sp500':
      return new Sp500Task(options as Sp500Options);
    case 'quantum-tomography':
      return new QuantumTomographyTask(options as TomographyOptions);
    case 'cliff-walking':
      return new CliffWalkingTask();
    case 'iris':
      return new IrisTask(options as IrisOptions);
    case 'iris-fractal':
      return new IrisFractalTask(options as IrisFractalOptions);
    case 'mnist':
      return new MnistTask(options as MnistOptions);
    case 'movie-ratings':
      return new MovieRatingsTask(options as MovieRatingsOptions);
    case 'seattle-weather':
      return new SeattleWeatherTask(options as SeattleWeatherOptions);
    case 'rosenbrock':
      return new RosenbrockTask(options as RosenbrockOptions);
    case 'ill-conditioned-quadratic':
      return new IllConditionedQuadraticTask(options as QuadraticOptions);
  }
}
