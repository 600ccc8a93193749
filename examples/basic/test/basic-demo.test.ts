import { afterEach, describe, expect, it } from "@jest/globals";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { createOffloadClient, sessionsV1, type OffloadClient, type Session } from "@sessionoffload/offload-api";
import { createSessionTableHandlers } from "@sessionoffload/session-server";
import { createSessionStatisticsHandlers } from "@sessionoffload/stats-server";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import { runBasicDemo } from "../demo";

/**
 * The demo client against ONE in-process grpc-js server hosting both
 * services over one memory switch with its traffic model on (fast ticks, so
 * that the TCP sessions end by FIN within a second). The two-process variant
 * over the shared SQLite switch is in basic-demo-processes.test.ts.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  readonly client: OffloadClient;
  /** Every session the switch answered get/delete with, in call order. */
  readonly answers: Array<{ op: "get" | "delete"; session: Session | undefined }>;
}

async function serve(): Promise<Served> {
  const sw: MemorySwitch = createMemorySwitch({
    capacity: 100,
    tickIntervalMs: 20,
    seed: 7,
    traffic: { finProbability: 0.01 },
  });
  const answers: Served["answers"] = [];
  const backend = {
    ...sw,
    get(id: bigint) {
      const session = sw.get(id);
      answers.push({ op: "get" as const, session });
      return session;
    },
    delete(id: bigint) {
      const session = sw.delete(id);
      answers.push({ op: "delete" as const, session });
      return session;
    },
  };
  const server = new Server();
  server.addService(sessionsV1.SessionTableService, createSessionTableHandlers({ backend }));
  server.addService(sessionsV1.SessionStatisticsTableService, createSessionStatisticsHandlers({ backend }));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  cleanups.push(() => sw.close());
  cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  const address = `127.0.0.1:${port}`;
  const client = createOffloadClient({
    sessionsAddress: address,
    statsAddress: address,
    credentials: { insecure: true },
  });
  cleanups.push(() => client.close());
  return { client, answers };
}

const SECTIONS = [
  "-------------- Add Session --------------",
  "-------------- Get Session --------------",
  "-------------- Delete Session --------------",
  "-------------- Add Mirror and Forward Session --------------",
  "-------------- Check for Closed Sessions --------------",
];

function valueAfter(lines: readonly string[], from: number, prefix: string): string | undefined {
  const line = lines.slice(from).find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim();
}

describe("examples/basic demo client (one in-process server, both services)", () => {
  it("prints the original sections in order with the values the server answered", async () => {
    const { client, answers } = await serve();
    const lines: string[] = [];
    const outcome = await runBasicDemo(client, { print: (l) => lines.push(l), closedTimeoutMs: 20_000, pollMs: 50 });

    // Sections, in the original order, each once.
    const at = SECTIONS.map((s) => lines.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const [add, get, del, addTwo, check] = at as [number, number, number, number, number];

    // Add: the id printed is the id the server assigned.
    expect(lines.slice(add + 1, get)).toEqual(["Adding Session", String(outcome.firstId)]);

    // Get: the printed values are the switch's answer.
    const gotBySwitch = answers.find((a) => a.op === "get")?.session;
    expect(gotBySwitch?.id).toBe(outcome.firstId);
    expect(valueAfter(lines, get, "SessionId:")).toBe(String(outcome.firstId));
    expect(valueAfter(lines, get, "Session InPackets")).toBe(String(gotBySwitch?.inPackets));
    expect(valueAfter(lines, get, "Session OutPackets")).toBe(String(gotBySwitch?.outPackets));
    expect(valueAfter(lines, get, "Session startTime seconds:")).toBe(
      String((gotBySwitch?.startTime ?? 0n) / 10n ** 9n),
    );

    // Delete: state 1 (CLOSING_1), final counters and an end time as answered.
    const deletedBySwitch = answers.find((a) => a.op === "delete")?.session;
    expect(deletedBySwitch?.id).toBe(outcome.firstId);
    expect(valueAfter(lines, del, "Session State 0=ESTABLISHED 1=CLOSING_1 :")).toBe("1");
    expect(valueAfter(lines, del, "Session InPackets")).toBe(String(deletedBySwitch?.inPackets));
    expect(valueAfter(lines, del, "Session endTime seconds:")).toBe(
      String((deletedBySwitch?.endTime ?? 0n) / 10n ** 9n),
    );

    // Add mirror and forward: two new ids, printed.
    expect(lines.slice(addTwo + 1, check)).toEqual([
      "Adding Session",
      String(outcome.mirrorId),
      "Adding Session",
      String(outcome.forwardId),
    ]);
    expect(outcome.mirrorId).not.toBe(outcome.forwardId);

    // Closed sessions: both ended in the switch (state 3, a close code, an end time) and were collected once.
    expect(outcome.complete).toBe(true);
    const closedIds = outcome.closed.map((s) => s.id);
    expect(closedIds).toEqual(expect.arrayContaining([outcome.mirrorId, outcome.forwardId]));
    expect(new Set(closedIds).size).toBe(closedIds.length);
    for (const s of outcome.closed) {
      expect(s.state).toBe("closed");
      expect(s.closeCode).not.toBe("notClosed");
      expect(s.endTime).toBeDefined();
    }
    const received = lines.slice(check).filter((l) => l === "### RECEIVED SESSION #####").length;
    expect(received).toBe(outcome.closed.length);
    const printedIds = lines
      .slice(check)
      .filter((l) => l.startsWith("SessionId:"))
      .map((l) => l.slice("SessionId:".length).trim());
    expect(printedIds).toEqual(closedIds.map(String));
  }, 30_000);
});
