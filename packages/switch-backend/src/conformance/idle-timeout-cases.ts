import { describe, expect, it } from "@jest/globals";
import type { WithHarness } from "./client-id-cases";
import { conformanceSpec } from "./session-specs";
import { accepted, drainClosed, ids } from "./support";

/**
 * Cases for a session's own idle timeout (`SessionSpec.idleTimeoutMs`, the
 * second generation's `cacheTimeout`), run when the harness can let idle time
 * pass (`advanceIdleTime`); skipped otherwise.
 */
export function describeIdleTimeoutCases(withHarness: WithHarness, timeout: number, skip: boolean): void {
  const test = skip ? it.skip : it;

  describe("per-session idle timeouts", () => {
    test(
      "ends a session idle for its own timeout with timeout, and not a moment before",
      () =>
        withHarness({ capacity: 10 }, async (harness, backend) => {
          if (harness.advanceIdleTime === undefined) return;
          const own = await accepted(backend, conformanceSpec(1, { idleTimeoutMs: 2_000 }));
          const longer = await accepted(backend, conformanceSpec(2, { idleTimeoutMs: 60_000 }));
          const byDefault = await accepted(backend, conformanceSpec(3, { idleTimeoutMs: 0 }));
          await harness.advanceIdleTime(1_000);
          expect(await backend.get(own.id)).toMatchObject({ state: "established" });
          await harness.advanceIdleTime(1_500);
          expect(await backend.get(own.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
          expect(await backend.get(longer.id)).toMatchObject({ state: "established" });
          expect(await backend.get(byDefault.id)).toMatchObject({ state: "established" });
          expect(ids(await drainClosed(backend))).toEqual([own.id]);
        }),
      timeout,
    );

    test(
      "counts a session's idle time from its last traffic",
      () =>
        withHarness({ capacity: 10 }, async (harness, backend) => {
          if (harness.advanceIdleTime === undefined || harness.addTraffic === undefined) return;
          const s = await accepted(backend, conformanceSpec(1, { idleTimeoutMs: 2_000, protocol: "udp" }));
          await harness.advanceIdleTime(1_500);
          await harness.addTraffic(s.id, { inPackets: 1n, outPackets: 0n, inBytes: 100n, outBytes: 0n });
          await harness.advanceIdleTime(1_500);
          expect(await backend.get(s.id)).toMatchObject({ state: "established", inPackets: 1n });
          await harness.advanceIdleTime(1_000);
          expect(await backend.get(s.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
        }),
      timeout,
    );

    test(
      "keeps the protocol's default for idleTimeoutMs 0 or absent",
      () =>
        withHarness({ capacity: 10 }, async (harness, backend) => {
          if (harness.advanceIdleTime === undefined || harness.defaultIdleTimeoutMs === undefined) return;
          const tcp = harness.defaultIdleTimeoutMs.tcp;
          const a = await accepted(backend, conformanceSpec(1, { idleTimeoutMs: 0 }));
          const b = await accepted(backend, conformanceSpec(2));
          const own = await accepted(backend, conformanceSpec(3, { idleTimeoutMs: tcp * 2 }));
          await harness.advanceIdleTime(tcp - 1);
          expect(await backend.get(a.id)).toMatchObject({ state: "established" });
          await harness.advanceIdleTime(2);
          expect(await backend.get(a.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
          expect(await backend.get(b.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
          expect(await backend.get(own.id)).toMatchObject({ state: "established" });
        }),
      timeout,
    );

    test(
      "refuses an idle timeout that is not a whole number of ms in range, naming idleTimeoutMs",
      () =>
        withHarness({ capacity: 10 }, async (_h, backend) => {
          for (const idleTimeoutMs of [-1, 1.5, Number.NaN, 2 ** 53]) {
            await expect(
              Promise.resolve().then(() => backend.add(conformanceSpec(1, { idleTimeoutMs }))),
            ).rejects.toThrow(/idleTimeoutMs/);
          }
          expect(await backend.size()).toBe(0);
        }),
      timeout,
    );
  });
}
