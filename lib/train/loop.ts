/**
 * The one training loop of cimm: `Trainer.fit`/`fitSync`, the comparison's `TaskRun`
 * (hence `cimm compare`) and `cimm train` all step through `trainingLoop`. The loop owns
 * the position (epoch, batch within the epoch, step), the order of the calls (the
 * epoch's batch order drawn before its first step, the step, the periodic checkpoint,
 * the stop checks, the end of the epoch, the final checkpoint) and the stop reasons; a
 * `LoopProgram` supplies what a step means (a Trainer batch through its model, a task's
 * mini-batch through an optimizer, an RL episode).
 *
 * The loop is a generator that yields after every step and at every epoch end, so one
 * body serves both drivers: `runLoopSync` resumes it back to back (scripts, worker
 * threads), `runLoop` gives the event loop a turn (`setImmediate`) between resumptions,
 * so timers, I/O and an `AbortSignal` are served during a long fit. An abort is seen
 * after the current step: the loop ends with reason 'aborted' and the final checkpoint
 * is written, so the run resumes from exactly that step.
 */

/** Where a loop stands; the program saves it with its own state. */
export interface LoopPosition {
  /** Epochs finished. */
  epoch: number;
  /** Steps done in the current epoch. */
  batchIndex: number;
  /** Steps done in all (across resumes). */
  step: number;
}

/** Why a loop ended. */
export type StopReason = 'epochs' | 'maxSteps' | 'earlyStopping' | 'stopped' | 'aborted' | 'diverged';

/** What a step, an epoch and a checkpoint mean for one kind of run. */
export interface LoopProgram {
  /** Steps per epoch (≥ 1). */
  readonly stepsPerEpoch: number;
  /** Epochs to run (Infinity: until maxSteps). */
  readonly epochs: number;
  /** Steps to stop at, counted across resumes (Infinity: no limit). */
  readonly maxSteps: number;
  /** Write a checkpoint every this many steps (0: only at the end; also none without `save`). */
  readonly checkpointEvery: number;
  /**
   * Before the first step the loop runs in an epoch (from its start, or from the middle
   * after a resume), or before its end when no step of it ran here: draw or restore the
   * epoch's batch order.
   */
  beginEpoch(position: Readonly<LoopPosition>): void;
  /** One step on batch `position.batchIndex` of epoch `position.epoch` (the loop counts it after). */
  step(position: Readonly<LoopPosition>): void;
  /**
   * After the epoch's last step (before the loop counts the epoch): validation, epoch
   * records, early stopping. Returns a reason to end, or null.
   */
  endEpoch?(position: Readonly<LoopPosition>): StopReason | null;
  /** A stop the program asks for (a callback's stop(), a diverged run): checked once before every step and epoch end. */
  stopRequested(): StopReason | null;
  /** Write a checkpoint of the program and `position` (absent: no checkpoints). */
  save?(position: Readonly<LoopPosition>, reason: StopReason | null): void;
}

/** The loop body (see the file comment). Yields after every step and epoch end; returns why it ended. */
export function* trainingLoop(
  program: LoopProgram,
  position: LoopPosition,
  signal?: AbortSignal,
): Generator<void, StopReason, void> {
  const reason = yield* body(program, position, signal);
  program.save?.(position, reason);
  return reason;
}

function* body(program: LoopProgram, p: LoopPosition, signal: AbortSignal | undefined): Generator<void, StopReason> {
  const every = program.save ? program.checkpointEvery : 0;
  // checked before the first step and after every yield, so once before every step and
  // every epoch end: a stop asked for by the last step's callback, or an abort seen while
  // the event loop had its turn
  const stop = () => program.stopRequested() ?? (signal?.aborted ? 'aborted' : null);
  const first = stop();
  if (first !== null) return first;
  while (p.epoch < program.epochs) {
    let begun = false;
    while (p.batchIndex < program.stepsPerEpoch) {
      if (p.step >= program.maxSteps) return 'maxSteps';
      if (!begun) {
        program.beginEpoch(p);
        begun = true;
      }
      program.step(p);
      p.step++;
      p.batchIndex++;
      if (every > 0 && p.step % every === 0) program.save?.(p, null);
      yield;
      const s = stop();
      if (s !== null) return s;
    }
    let end: StopReason | null = null;
    if (program.endEpoch) {
      // a run resumed after the epoch's last step still restores its order before the end
      if (!begun) program.beginEpoch(p);
      end = program.endEpoch(p);
    }
    p.epoch++;
    p.batchIndex = 0;
    if (end !== null) return end;
    if (program.endEpoch) {
      yield;
      const s = stop();
      if (s !== null) return s;
    }
  }
  return 'epochs';
}

/** Run a loop to its end without giving up the thread. */
export function runLoopSync<R>(loop: Generator<void, R, void>): R {
  for (;;) {
    const r = loop.next();
    if (r.done) return r.value;
  }
}

/** setImmediate as a promise: the event loop runs its timers and I/O before it resolves. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How runLoop shares the thread. */
export interface RunLoopOptions {
  /**
   * Give the event loop a turn once at least this many milliseconds have passed since
   * the last one (default 0: after every step). A turn costs about 5 µs here
   * (docs/theory.md, "Non-blocking fit"): nothing beside a batch of a real model, but a
   * loop of microsecond steps (a small task from the command line) can batch its turns.
   */
  sliceMs?: number;
}

/** Run a loop, giving the event loop a turn between steps (see the file comment). */
export async function runLoop<R>(loop: Generator<void, R, void>, opts: RunLoopOptions = {}): Promise<R> {
  const slice = opts.sliceMs ?? 0;
  let last = performance.now();
  for (;;) {
    const r = loop.next();
    if (r.done) return r.value;
    if (slice > 0) {
      const now = performance.now();
      if (now - last < slice) continue;
      last = now;
    }
    await nextTurn();
  }
}
