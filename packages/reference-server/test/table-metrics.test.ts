import { afterEach, expect, it } from "@jest/globals";
import { Registry } from "prom-client";
import { ValidationError, type Session, type SessionSpec } from "@sessionoffload/offload-api";
import { createMemorySwitch, type MemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { conformanceSpec } from "@sessionoffload/switch-backend/conformance";
import {
  createObservedBackend,
  createTableMetrics,
  TABLE_METRIC_NAMES,
  type TableMetricsOptions,
} from "@sessionoffload/reference-server/metrics";
import {
  describeWithPrometheusParser,
  familyNames,
  parsePrometheusText,
  valueOf,
} from "../../../test/support/prometheus-text";

let sw: MemorySwitch;
afterEach(() => sw?.close());

function memory(capacity = 4): MemorySwitch {
  sw = createMemorySwitch({ capacity, traffic: false, tickIntervalMs: 0 });
  return sw;
}

// The same switch answering every call with a promise, as a durable or remote switch does.
function promising(inner: MemorySwitch): SwitchBackend {
  return {
    add: async (spec) => inner.add(spec),
    get: async (id) => inner.get(id),
    delete: async (id) => inner.delete(id),
    sessions: (options) =>
      (async function* () {
        yield* inner.sessions(options);
      })(),
    takeClosed: async (max) => {
      const lease = inner.takeClosed(max);
      return { sessions: lease.sessions, settle: async (ids) => lease.settle(ids) };
    },
    size: async () => inner.size(),
    stats: async () => inner.stats(),
    close: async () => inner.close(),
  };
}

async function scrape(registry: Registry) {
  const text = await registry.metrics();
  return { text, families: parsePrometheusText(text) };
}

function observed(backend: SwitchBackend, options: Partial<TableMetricsOptions> = {}) {
  const registry = new Registry();
  const counts = createTableMetrics(registry, { backend, ...options });
  return { registry, backend: createObservedBackend(backend, counts) };
}

const ids = (sessions: readonly Session[]) => sessions.map((s) => s.id);

describeWithPrometheusParser("table metrics over an observed switch", () => {
  it.each([
    ["synchronous", (inner: MemorySwitch): SwitchBackend => inner],
    ["promise-answering", promising],
  ])("counts adds, refusals, collected closes by code and deletes (%s switch)", async (_kind, wrap) => {
    const inner = memory(4);
    const { registry, backend } = observed(wrap(inner));
    const added: bigint[] = [];
    for (let n = 0; n < 4; n += 1) {
      const r = await backend.add(conformanceSpec(n, { protocol: n === 3 ? "udp" : "tcp" }));
      if (r.kind === "accepted") added.push(r.session.id);
    }
    expect((await backend.add(conformanceSpec(0))).kind).toBe("alreadyExists");
    expect((await backend.add(conformanceSpec(9))).kind).toBe("tableFull");
    expect((await backend.add(conformanceSpec(10))).kind).toBe("tableFull");
    const [a, b, c, d] = added as [bigint, bigint, bigint, bigint];
    inner.endSession(a, "rst");
    inner.endSession(b, "finAck");
    inner.endSession(d, "timeout");
    const lease = await backend.takeClosed(10);
    expect(ids(lease.sessions)).toEqual([a, b, d]);
    await lease.settle([a, d]); // b stays: not delivered
    expect((await backend.delete(c))?.state).toBe("closing1");
    expect(await backend.delete(c)).toBeUndefined();

    const { text, families } = await scrape(registry);
    expect(familyNames(text)).toEqual([...TABLE_METRIC_NAMES]);
    expect(valueOf(families, "offload_sessions_added_total")).toBe(4);
    expect(valueOf(families, "offload_sessions_rejected_total", { reason: "already_exists" })).toBe(1);
    expect(valueOf(families, "offload_sessions_rejected_total", { reason: "table_full" })).toBe(2);
    expect(valueOf(families, "offload_sessions_closed_total", { code: "rst" })).toBe(1);
    expect(valueOf(families, "offload_sessions_closed_total", { code: "timeout" })).toBe(1);
    expect(valueOf(families, "offload_sessions_closed_total", { code: "fin_ack" })).toBe(0);
    expect(valueOf(families, "offload_sessions_closed_total", { code: "deleted" })).toBe(1);
    expect(valueOf(families, "offload_sessions")).toBe(1);
    expect(valueOf(families, "offload_switch_errors_total", { operation: "add" })).toBe(0);
  });

  it("answers as the switch does: synchronously when it does, the same results, the iteration lazy", () => {
    const inner = memory(10);
    const { backend } = observed(inner);
    const r = backend.add(conformanceSpec(1));
    expect(r).toMatchObject({ kind: "accepted" });
    backend.add(conformanceSpec(2));
    const id = (r as { session: Session }).session.id;
    expect(backend.get(id)).toEqual(inner.get(id));
    expect(backend.size()).toBe(2);
    const iterable = backend.sessions();
    expect(Symbol.iterator in iterable).toBe(true);
    const iterator = (iterable as Iterable<Session>)[Symbol.iterator]();
    expect(iterator.next().value?.id).toBe(id);
    expect(iterator.return?.().done).toBe(true);
    expect(backend.stats?.()).toEqual({ capacity: 10, closedPending: 0 });
  });

  it("counts what the switch throws or rejects with, by operation, and passes the error on", async () => {
    const inner = memory(10);
    const failure = Object.assign(new Error("disk on fire"), { code: "EIO" });
    const broken: SwitchBackend = {
      ...inner,
      add: (spec: SessionSpec) => {
        if (spec.sourcePort === 1024) throw new ValidationError("sourcePort", "test");
        return Promise.reject(failure);
      },
      get: () => {
        throw failure;
      },
      sessions: () =>
        (function* () {
          yield* inner.sessions();
          throw failure;
        })(),
      takeClosed: () => Promise.reject(failure),
      size: () => {
        throw failure;
      },
      stats: undefined,
    };
    const { registry, backend } = observed(broken, { capacity: 10 });
    inner.add(conformanceSpec(1));
    await expect(backend.add(conformanceSpec(1, { sourcePort: 2000 }))).rejects.toBe(failure);
    expect(() => backend.add(conformanceSpec(1))).toThrow(ValidationError); // the caller's mistake: not counted
    expect(() => backend.get(1n)).toThrow(failure);
    expect(() => [...(backend.sessions() as Iterable<Session>)]).toThrow(failure);
    await expect(backend.takeClosed(1)).rejects.toBe(failure);
    // A scrape's failing read is counted too; it shows from the next scrape on.
    await scrape(registry);
    const { families } = await scrape(registry);
    for (const [operation, count] of [
      ["add", 1],
      ["get", 1],
      ["sessions", 1],
      ["takeClosed", 1],
      ["size", 1],
    ] as const) {
      expect([operation, valueOf(families, "offload_switch_errors_total", { operation })]).toEqual([operation, count]);
    }
    expect(valueOf(families, "offload_sessions")).toBeUndefined(); // size() threw: left out
    expect(valueOf(families, "offload_sessions_capacity")).toBe(10); // no stats(): the configured capacity
    expect(families.find((f) => f.name === "offload_closed_pending")).toBeUndefined();
  });

  it("reads capacity and closed-pending from stats(), and leaves out what a slow switch does not answer in time", async () => {
    const inner = memory(6);
    const a = inner.add(conformanceSpec(1));
    inner.add(conformanceSpec(2));
    if (a.kind !== "accepted") throw new Error("not accepted");
    inner.endSession(a.session.id, "rst");
    const warnings: unknown[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (fields: unknown) => void warnings.push(fields),
      error: () => undefined,
      isLevelEnabled: () => true,
    };
    const quick = observed(inner);
    const { families } = await scrape(quick.registry);
    expect(valueOf(families, "offload_sessions")).toBe(2);
    expect(valueOf(families, "offload_sessions_capacity")).toBe(6);
    expect(valueOf(families, "offload_closed_pending")).toBe(1);

    const stuck: SwitchBackend = { ...inner, size: () => new Promise<number>(() => undefined) };
    const slow = observed(stuck, { readTimeoutMs: 50, logger });
    const scraped = await scrape(slow.registry);
    expect(valueOf(scraped.families, "offload_sessions")).toBeUndefined();
    expect(valueOf(scraped.families, "offload_closed_pending")).toBe(1);
    expect(valueOf(scraped.families, "offload_switch_errors_total", { operation: "size" })).toBe(0);
    expect(warnings).toEqual([{ operation: "size", reason: "no answer within 50 ms" }]);
  });
});
