import { MAX_VERDICTS, sessionMark, verdictScript } from "./ruleset";
import type { NftRunner } from "./nft-runner";
import type { VerdictSpec } from "./session-tuple";

/** The verdict chains of a switch: one per distinct spec, made with nft the first time a spec is used (rare). */
export interface VerdictRegistry {
  /** The conntrack mark of a spec whose chain exists, else undefined. */
  markOf(spec: VerdictSpec): number | undefined;
  /** Makes the spec's chain (once; concurrent calls share the work) and answers its mark. */
  ensure(spec: VerdictSpec): Promise<number>;
}

function specKey(spec: VerdictSpec): string {
  // Interface names hold no NUL (checkKernelSpec refuses one).
  return `${spec.family}\u0000${spec.verdict}\u0000${spec.dup ?? ""}\u0000${spec.inLif}\u0000${spec.outLif}`;
}

/** Makes the registry of a switch's tables (named `table`), with marks under `tag`. */
export function createVerdictRegistry(runner: NftRunner, table: string, tag: number): VerdictRegistry {
  const made = new Map<string, number>();
  const making = new Map<string, Promise<number>>();
  let next = 1;
  // One nft run at a time: chain numbers are taken in order.
  let tail: Promise<unknown> = Promise.resolve();
  return {
    markOf(spec) {
      return made.get(specKey(spec));
    },
    ensure(spec) {
      const key = specKey(spec);
      const done = made.get(key);
      if (done !== undefined) return Promise.resolve(done);
      let pending = making.get(key);
      if (pending === undefined) {
        pending = tail.then(async () => {
          if (next > MAX_VERDICTS) throw new Error(`more than ${MAX_VERDICTS} distinct verdicts`);
          const index = next;
          const mark = sessionMark(tag, index);
          await runner.script(verdictScript(table, index, mark, spec));
          next += 1;
          made.set(key, mark);
          return mark;
        });
        const settled = pending.finally(() => making.delete(key));
        settled.catch(() => undefined);
        tail = pending.catch(() => undefined);
        making.set(key, pending);
      }
      return pending;
    },
  };
}
