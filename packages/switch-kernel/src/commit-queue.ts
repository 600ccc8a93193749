import { coalesceCommands } from "./coalesce-commands";
import type { NftCommand, NftRunner } from "./nft-runner";

/** Options of `createCommitQueue`. */
export interface CommitQueueOptions {
  /** Applies the batches. */
  readonly runner: NftRunner;
  /** Most operations in one nft batch; default 20,000. */
  readonly maxOps?: number;
}

/**
 * Coalesces kernel updates: every operation submitted in the same turn of the
 * event loop (and while a batch is in flight) goes into one `nft -j -f FILE`
 * batch, its element commands merged to one per set or map.
 */
export interface CommitQueue {
  /** Queues an operation (its commands stay together and in order); resolves once its batch committed. */
  submit(commands: readonly NftCommand[]): Promise<void>;
  /** Resolves when everything submitted so far has been applied or has failed. */
  drain(): Promise<void>;
}

interface Op {
  readonly commands: readonly NftCommand[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Makes a queue that applies operations in batches. When a batch fails the
 * kernel has applied none of it; the queue then applies its operations one by
 * one, so that one bad operation fails alone.
 */
export function createCommitQueue(options: CommitQueueOptions): CommitQueue {
  const maxOps = options.maxOps ?? 20_000;
  let pending: Op[] = [];
  let running: Promise<void> | undefined;

  async function applyBatch(ops: readonly Op[]): Promise<void> {
    try {
      await options.runner.apply(coalesceCommands(ops.flatMap((op) => op.commands)));
      for (const op of ops) op.resolve();
      return;
    } catch (err) {
      if (ops.length === 1) {
        ops[0]?.reject(err);
        return;
      }
    }
    for (const op of ops) {
      try {
        await options.runner.apply(op.commands);
        op.resolve();
      } catch (err) {
        op.reject(err);
      }
    }
  }

  async function loop(): Promise<void> {
    // Let the current turn's submissions join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (pending.length > 0) {
      const ops = pending.slice(0, maxOps);
      pending = pending.slice(ops.length);
      await applyBatch(ops);
    }
    running = undefined;
  }

  return {
    submit(commands) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ commands, resolve, reject });
        running ??= loop();
      });
    },
    async drain() {
      while (running !== undefined) await running;
    },
  };
}
