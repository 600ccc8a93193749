import { Counter, type Registry } from "prom-client";

/** Label values of one series. */
export type Labels<T extends string> = Partial<Record<T, string>>;

/**
 * A prom-client Counter whose series are read from `read()` at each scrape:
 * the counts are kept elsewhere in plain numbers (cheap on the hot path) and
 * only copied into prom-client when Prometheus asks.
 */
export function createSnapshotCounter<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  read: () => Iterable<readonly [Labels<T>, number]>,
): Counter<T> {
  return new Counter<T>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}
