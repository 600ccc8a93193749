import { setTimeout as delay } from "node:timers/promises";
import type {
  OpenOffloadAddResult,
  OpenOffloadClient,
  OpenOffloadSessionInput,
  Session,
} from "@sessionoffload/offload-api";
import { banner, sessionLines } from "../basic/print-session";

/** Options of `runOpenOffloadDemo`. */
export interface OpenOffloadDemoOptions {
  /** Receives each output line. */
  readonly print: (line: string) => void;
  /** The first id this run assigns (the client assigns ids in this generation); default from the clock, so reruns do not collide. */
  readonly firstId?: bigint;
  /** How long to wait for the mirror and forward sessions to end in the switch; default 60 s. */
  readonly closedTimeoutMs?: number;
  /** Pause between two getClosedSessions calls while waiting; default 500 ms. */
  readonly pollMs?: number;
  /** Stops the wait early. */
  readonly signal?: AbortSignal;
}

/** What the demo did, for tests. */
export interface OpenOffloadDemoOutcome {
  readonly firstId: bigint;
  readonly got: Session | undefined;
  readonly deleted: Session | undefined;
  /** The per-session answers of the batch (mirror, forward, and a deliberate duplicate). */
  readonly batch: readonly OpenOffloadAddResult[];
  readonly mirrorId: bigint;
  readonly forwardId: bigint;
  /** Ids the paging walk listed. */
  readonly listed: readonly bigint[];
  /** Every closed session the demo collected, in arrival order. */
  readonly closed: readonly Session[];
  /** True when both the mirror and the forward session were collected before the timeout. */
  readonly complete: boolean;
}

/** The first session: an IPv4 TCP flow the switch forwards (LIFs are numbers in this generation). */
export function firstSession(id: bigint): OpenOffloadSessionInput {
  return {
    id,
    inLif: 1,
    outLif: 2,
    sourceIp: "10.0.0.1",
    sourcePort: 12345,
    destinationIp: "10.1.0.1",
    destinationPort: 80,
    protocol: "tcp",
    action: "forward",
  };
}

/** The mirrored session: copies go to the next hop as well; its own idle timeout of 30 s. */
export function mirrorSession(id: bigint): OpenOffloadSessionInput {
  return {
    ...firstSession(id),
    sourcePort: 12346,
    destinationIp: "10.1.0.2",
    destinationPort: 443,
    action: "mirror",
    nextHop: "10.9.9.9",
    idleTimeoutSeconds: 30,
  };
}

/** The forwarded session, IPv6. */
export function forwardSession(id: bigint): OpenOffloadSessionInput {
  return {
    id,
    inLif: 1,
    outLif: 2,
    sourceIp: "2001:db8::1",
    sourcePort: 40000,
    destinationIp: "2001:db8:1::80",
    destinationPort: 8080,
    protocol: "tcp",
    action: "forward",
  };
}

function resultLine(result: OpenOffloadAddResult): string {
  switch (result.kind) {
    case "accepted":
      return `${result.id}: accepted`;
    case "alreadyExists":
      return `${result.id}: already exists (errorStatus 6)`;
    case "tableFull":
      return `${result.id}: table full (errorStatus 8)`;
    case "invalid":
      return `${result.id}: malformed (errorStatus 3)`;
    case "failed":
      return `${result.id}: switch failure (errorStatus ${result.code})`;
  }
}

/**
 * The original demo's flow in the second generation (openoffload.v1): add a
 * session with an id the client chose, get it, delete it, add a mirror and a
 * forward session in one batch (with a deliberate duplicate, to show the
 * per-session answers), page through the table, then collect closed sessions
 * until the mirror and forward sessions have ended in the switch (or
 * `closedTimeoutMs` passed).
 */
export async function runOpenOffloadDemo(
  client: OpenOffloadClient,
  options: OpenOffloadDemoOptions,
): Promise<OpenOffloadDemoOutcome> {
  const { print } = options;
  const closedTimeoutMs = options.closedTimeoutMs ?? 60_000;
  const pollMs = options.pollMs ?? 500;
  const firstId = options.firstId ?? BigInt(Date.now()) * 1000n;

  print(banner("Add Session"));
  print("Adding Session");
  const [added] = await client.addSessions([firstSession(firstId)]);
  print(added === undefined ? "(no answer)" : resultLine(added));

  print(banner("Get Session"));
  print("Getting Session");
  const got = await client.getSession(firstId);
  if (got.kind === "found") for (const line of sessionLines(got.session, "0=ESTABLISHED")) print(line);
  else print(`Session ${firstId} not found (NOT_FOUND)`);

  print(banner("Delete Session"));
  print("Deleting Session");
  const deleted = await client.deleteSession(firstId);
  if (deleted.kind === "found")
    for (const line of sessionLines(deleted.session, "0=ESTABLISHED 1=CLOSING_1")) print(line);
  else print(`Session ${firstId} not found (NOT_FOUND)`);

  print(banner("Add Mirror and Forward Session (one batch)"));
  const mirrorId = firstId + 1n;
  const forwardId = firstId + 2n;
  // The third session repeats the mirror's id: the batch answers it alone, the others go in.
  const batch = await client.addSessions([
    mirrorSession(mirrorId),
    forwardSession(forwardId),
    { ...forwardSession(mirrorId), sourcePort: 40001 },
  ]);
  for (const result of batch) print(resultLine(result));

  print(banner("Get All Sessions (pages of 64)"));
  const listed: bigint[] = [];
  for await (const session of client.getAllSessions({ pageSize: 64 })) listed.push(session.id);
  print(`${listed.length} session(s) in the table`);

  print(banner("Check for Closed Sessions"));
  const waiting = new Set([mirrorId, forwardId]);
  const closed: Session[] = [];
  const giveUpAt = Date.now() + closedTimeoutMs;
  for (;;) {
    for await (const session of client.getClosedSessions({ pageSize: 64, signal: options.signal })) {
      closed.push(session);
      waiting.delete(session.id);
      print("### RECEIVED SESSION #####");
      for (const line of sessionLines(session, "0=ESTABLISHED 1=CLOSING_1 2=CLOSING_2 3=CLOSED")) print(line);
      print("##########################");
    }
    if (waiting.size === 0 || Date.now() >= giveUpAt || options.signal?.aborted) break;
    await delay(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
  if (waiting.size > 0) print(`(still open after ${closedTimeoutMs / 1000} s: ${[...waiting].join(", ")})`);
  return {
    firstId,
    got: got.kind === "found" ? got.session : undefined,
    deleted: deleted.kind === "found" ? deleted.session : undefined,
    batch,
    mirrorId,
    forwardId,
    listed,
    closed,
    complete: waiting.size === 0,
  };
}
