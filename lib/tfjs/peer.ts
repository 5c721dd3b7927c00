/**
 * TensorFlow.js as an optional peer of `cimm/tfjs`: `@tensorflow/tfjs-core` is loaded here,
 * once, with Node's `require`, so that cimm's adapters extend the very `tf.Optimizer` and
 * register into the very `tf.serialization` registry the application's `import
 * '@tensorflow/tfjs-core'` gets (Node loads that package's CommonJS build for `import` and
 * `require` alike: one instance). A missing peer is an error that says what to install;
 * nothing else in cimm loads this module (`import 'cimm'` never touches TensorFlow.js).
 */
import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';

/** The versions the adapters are built and tested on (package.json's peerDependencies). */
export const TFJS_PEERS = '@tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-layers@4.22.0';

/** `cimm/tfjs` was loaded without `@tensorflow/tfjs-core` installed (or it failed to load). */
export class CimmPeerError extends Error {
  readonly code = 'ERR_CIMM_PEER';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CimmPeerError';
  }
}

/**
 * `@tensorflow/tfjs-core` resolved from `from` (this module by default), or a CimmPeerError
 * that names the package to install.
 */
export function loadTfjsCore(from: string = import.meta.url): typeof TfCore {
  const require = createRequire(from);
  try {
    return require('@tensorflow/tfjs-core') as typeof TfCore;
  } catch (error) {
    const missing =
      (error as { code?: unknown })?.code === 'MODULE_NOT_FOUND' &&
      String((error as Error).message).includes("'@tensorflow/tfjs-core'");
    throw new CimmPeerError(
      missing
        ? 'cimm/tfjs needs TensorFlow.js, an optional peer dependency that is not installed with cimm: ' +
            `npm install ${TFJS_PEERS} (and a backend: @tensorflow/tfjs-backend-cpu, or the umbrella @tensorflow/tfjs)`
        : `cimm/tfjs could not load @tensorflow/tfjs-core: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
}

/** TensorFlow.js core, the instance the adapters extend and register into. */
export const tf: typeof TfCore = loadTfjsCore();
