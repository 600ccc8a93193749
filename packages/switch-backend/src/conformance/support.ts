import { expect } from "@jest/globals";
import type { CloseCode, Session, SessionSpec } from "@sessionoffload/offload-api";
import type { AddOptions, AddResult, SwitchBackend } from "../backend";

// Helpers shared by the conformance suite's case files.

export type EndCode = Exclude<CloseCode, "notClosed">;

export const TWO_53 = 2n ** 53n;
/** Accepted clock skew between the backend and this process for startTime/endTime checks. */
export const CLOCK_SLACK_NS = 300n * 1_000_000_000n;

export const TABLE_FULL: AddResult = { kind: "tableFull" };

export function alreadyExists(id: bigint | undefined): AddResult {
  return { kind: "alreadyExists", id: id ?? -1n };
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export async function collect(iterable: AsyncIterable<Session> | Iterable<Session>): Promise<Session[]> {
  const out: Session[] = [];
  for await (const session of iterable) out.push(session);
  return out;
}

export async function accepted(backend: SwitchBackend, spec: SessionSpec, options?: AddOptions): Promise<Session> {
  const result = await (options === undefined ? backend.add(spec) : backend.add(spec, options));
  if (result.kind !== "accepted") throw new Error(`expected add to be accepted, got ${result.kind}`);
  return result.session;
}

export function ids(sessions: readonly Session[]): bigint[] {
  return sessions.map((s) => s.id);
}

export function expectAscending(list: readonly bigint[]): void {
  for (let i = 1; i < list.length; i++) expect((list[i] ?? 0n) > (list[i - 1] ?? 0n)).toBe(true);
}

export async function drainClosed(backend: SwitchBackend): Promise<Session[]> {
  const out: Session[] = [];
  for (;;) {
    const lease = await backend.takeClosed(1000);
    if (lease.sessions.length === 0) {
      await lease.settle([]);
      return out;
    }
    out.push(...lease.sessions);
    await lease.settle(ids(lease.sessions));
  }
}
