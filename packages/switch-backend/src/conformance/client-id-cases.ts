import { describe, expect, it } from "@jest/globals";
import { UINT64_MAX } from "@sessionoffload/offload-api";
import type { SwitchBackend } from "../backend";
import type { ConformanceHarness, HarnessOptions } from "./harness";
import { conformanceSpec } from "./session-specs";
import { accepted, alreadyExists, collect, drainClosed, ids, TABLE_FULL, TWO_53, type EndCode } from "./support";

/** Runs `body` against a fresh harness and disposes it. */
export type WithHarness = (
  options: HarnessOptions,
  body: (harness: ConformanceHarness, backend: SwitchBackend) => Promise<void>,
) => Promise<void>;

/** Adds through a promise, so that a synchronous throw and a rejection are both a rejection. */
function addAsync(backend: SwitchBackend, n: number, id: bigint): Promise<unknown> {
  return Promise.resolve().then(() => backend.add(conformanceSpec(n), { id }));
}

/**
 * Cases for ids a client assigns (`add(spec, { id })`): the second
 * generation's ids and the first generation's switch-assigned ids share one
 * id space, one id is never held by two entries.
 */
export function describeClientIdCases(withHarness: WithHarness, timeout: number, skip: boolean): void {
  const test = skip ? it.skip : it;
  const each = skip ? it.skip.each : it.each;

  describe("client-assigned ids", () => {
    test(
      "accepts a session with the id the client asks for",
      () =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          const session = await accepted(backend, conformanceSpec(1), { id: 77n });
          expect(session).toMatchObject({ id: 77n, state: "established", closeCode: "notClosed" });
          expect(await backend.get(77n)).toEqual(session);
          expect(await backend.size()).toBe(1);
        }),
      timeout,
    );

    test(
      "answers alreadyExists with that id for an id in the table, whatever the 7-tuple, and adds nothing",
      () =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          await accepted(backend, conformanceSpec(1), { id: 5n });
          expect(await backend.add(conformanceSpec(2), { id: 5n })).toEqual(alreadyExists(5n));
          expect(await backend.add(conformanceSpec(1), { id: 5n })).toEqual(alreadyExists(5n));
          expect(await backend.size()).toBe(1);
          expect(await backend.get(5n)).toMatchObject({ id: 5n });
        }),
      timeout,
    );

    test(
      "answers alreadyExists with the live session's id for a live 7-tuple under a new id",
      () =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          await accepted(backend, conformanceSpec(1), { id: 5n });
          expect(await backend.add(conformanceSpec(1), { id: 6n })).toEqual(alreadyExists(5n));
          expect(await backend.get(6n)).toBeUndefined();
          expect(await backend.size()).toBe(1);
        }),
      timeout,
    );

    each<[EndCode]>([["finAck"], ["rst"], ["timeout"]])(
      "keeps the id of a session that ended (%s) taken until it is collected, then frees it",
      (code) =>
        withHarness({ capacity: 10 }, async (harness, backend) => {
          await accepted(backend, conformanceSpec(1), { id: 9n });
          await harness.endSession(9n, code);
          expect(await backend.add(conformanceSpec(2), { id: 9n })).toEqual(alreadyExists(9n));
          expect(ids(await drainClosed(backend))).toEqual([9n]);
          const again = await accepted(backend, conformanceSpec(2), { id: 9n });
          expect(again.id).toBe(9n);
        }),
      timeout,
    );

    test(
      "frees an id on delete",
      () =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          await accepted(backend, conformanceSpec(1), { id: 3n });
          expect((await backend.delete(3n))?.id).toBe(3n);
          expect((await accepted(backend, conformanceSpec(1), { id: 3n })).id).toBe(3n);
          expect(ids(await collect(backend.sessions()))).toEqual([3n]);
        }),
      timeout,
    );

    test(
      "answers tableFull at capacity for a requested id",
      () =>
        withHarness({ capacity: 1 }, async (_h, backend) => {
          await accepted(backend, conformanceSpec(1), { id: 1n });
          expect(await backend.add(conformanceSpec(2), { id: 2n })).toEqual(TABLE_FULL);
          expect(await backend.get(2n)).toBeUndefined();
        }),
      timeout,
    );

    each<[string, bigint]>([
      ["0", 0n],
      ["2^64", UINT64_MAX + 1n],
      ["-1", -1n],
    ])(
      "refuses id %s with an error naming sessionId, and adds nothing",
      (_what, id) =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          await expect(addAsync(backend, 1, id)).rejects.toThrow(/sessionId/);
          expect(await backend.size()).toBe(0);
        }),
      timeout,
    );

    test(
      "never assigns an id a client holds, and refuses a client the id the switch assigned",
      () =>
        withHarness({ capacity: 20, firstId: 100n }, async (_h, backend) => {
          for (let i = 0; i < 5; i++) await accepted(backend, conformanceSpec(i), { id: 100n + BigInt(i) });
          const assigned: bigint[] = [];
          for (let i = 5; i < 10; i++) assigned.push((await accepted(backend, conformanceSpec(i))).id);
          const all = new Set([100n, 101n, 102n, 103n, 104n, ...assigned]);
          expect(all.size).toBe(10);
          for (const id of assigned) {
            expect(await backend.add(conformanceSpec(50), { id })).toEqual(alreadyExists(id));
          }
          expect(await backend.size()).toBe(10);
        }),
      timeout,
    );

    test(
      "accepts exactly one of many concurrent adds of the same id",
      () =>
        withHarness({ capacity: 100 }, async (_h, backend) => {
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) => backend.add(conformanceSpec(i), { id: 42n })),
          );
          expect(results.filter((r) => r.kind === "accepted")).toHaveLength(1);
          for (const r of results) if (r.kind !== "accepted") expect(r).toEqual(alreadyExists(42n));
          expect(await backend.size()).toBe(1);
        }),
      timeout,
    );

    const scattered = [UINT64_MAX, 1n, TWO_53 + 1n, 2n ** 32n, 2n ** 32n - 1n, 5n, 2n ** 63n, TWO_53 - 1n];
    const sorted = [...scattered].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

    test(
      "keeps ids from 1 to 2^64-1 exact and lists them in id order whatever the order they came in",
      () =>
        withHarness({ capacity: 20 }, async (harness, backend) => {
          for (const [i, id] of scattered.entries()) await accepted(backend, conformanceSpec(i), { id });
          for (const id of scattered) expect((await backend.get(id))?.id).toBe(id);
          expect(ids(await collect(backend.sessions()))).toEqual(sorted);
          expect(ids(await collect(backend.sessions({ afterId: 2n ** 32n - 1n })))).toEqual(sorted.slice(3));
          expect(ids(await collect(backend.sessions({ afterId: 2n ** 32n })))).toEqual(sorted.slice(4));
          expect(ids(await collect(backend.sessions({ afterId: UINT64_MAX })))).toEqual([]);
          await harness.endSession(2n ** 63n, "rst");
          expect(ids(await drainClosed(backend))).toEqual([2n ** 63n]);
          expect((await backend.delete(UINT64_MAX))?.id).toBe(UINT64_MAX);
          expect(ids(await collect(backend.sessions()))).toEqual(sorted.filter((id) => id < 2n ** 63n));
        }),
      timeout,
    );

    test(
      "walks a table that changes between steps without repeating or skipping a session that stayed",
      () =>
        withHarness({ capacity: 200 }, async (_h, backend) => {
          const start: bigint[] = [];
          for (let i = 0; i < 60; i++)
            start.push((await accepted(backend, conformanceSpec(i), { id: BigInt(10 + i * 10) })).id);
          const seen: bigint[] = [];
          let after: bigint | undefined;
          let n = 100;
          // Pages of 7, as a paging client walks: between pages, ids are added below and above, and some deleted.
          for (;;) {
            const page: bigint[] = [];
            for await (const s of backend.sessions(after === undefined ? {} : { afterId: after })) {
              page.push(s.id);
              if (page.length === 7) break;
            }
            if (page.length === 0) break;
            seen.push(...page);
            after = page[page.length - 1];
            if (n > 130) continue;
            for (const id of [(after ?? 0n) - 5n, (after ?? 0n) + 5n]) {
              const result = await backend.add(conformanceSpec(n++), { id });
              expect(["accepted", "alreadyExists"]).toContain(result.kind);
            }
            await backend.delete(start[n % 60] ?? 0n);
          }
          expect(new Set(seen).size).toBe(seen.length);
          for (let i = 1; i < seen.length; i++) expect((seen[i] ?? 0n) > (seen[i - 1] ?? 0n)).toBe(true);
          const present = new Set(ids(await collect(backend.sessions())));
          for (const id of start) if (present.has(id)) expect(seen).toContain(id);
        }),
      timeout,
    );
  });
}
