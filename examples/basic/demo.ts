import { setTimeout as delay } from "node:timers/promises";
import type { OffloadClient, Session, SessionInput } from "@sessionoffload/offload-api";
import { banner, sessionLines } from "./print-session";

/** Options of `runBasicDemo`. */
export interface BasicDemoOptions {
  /** Receives each output line. */
  readonly print: (line: string) => void;
  /** How long to wait for the mirror and forward sessions to end in the switch; default 60 s. */
  readonly closedTimeoutMs?: number;
  /** Pause between two getClosedSessions calls while waiting; default 500 ms. */
  readonly pollMs?: number;
  /** Stops the wait early. */
  readonly signal?: AbortSignal;
}

/** What the demo did, for tests. */
export interface BasicDemoOutcome {
  readonly firstId: bigint;
  readonly got: Session | undefined;
  readonly deleted: Session | undefined;
  readonly mirrorId: bigint;
  readonly forwardId: bigint;
  /** Every closed session the demo collected, in arrival order. */
  readonly closed: readonly Session[];
  /** True when both the mirror and the forward session were collected before the timeout. */
  readonly complete: boolean;
}

/** The first session of the demo: an IPv4 TCP flow that the switch forwards. */
export const FIRST_SESSION: SessionInput = {
  inLif: "eth0",
  outLif: "eth1",
  sourceIp: "10.0.0.1",
  sourcePort: 12345,
  destinationIp: "10.1.0.1",
  destinationPort: 80,
  protocol: "tcp",
  action: "forward",
};

/** The mirrored session: copies go to the next hop as well. */
export const MIRROR_SESSION: SessionInput = {
  ...FIRST_SESSION,
  sourcePort: 12346,
  destinationIp: "10.1.0.2",
  destinationPort: 443,
  action: "mirror",
  nextHop: "10.9.9.9",
};

/** The forwarded session, IPv6. */
export const FORWARD_SESSION: SessionInput = {
  inLif: "eth0",
  outLif: "eth1",
  sourceIp: "2001:db8::1",
  sourcePort: 40000,
  destinationIp: "2001:db8:1::80",
  destinationPort: 8080,
  protocol: "tcp",
  action: "forward",
};

async function add(client: OffloadClient, input: SessionInput, print: (line: string) => void): Promise<bigint> {
  print("Adding Session");
  const result = await client.addSession(input);
  switch (result.kind) {
    case "accepted":
      print(String(result.id));
      return result.id;
    case "alreadyExists":
      print(`${result.id} (already offloaded)`);
      return result.id;
    case "tableFull":
      throw new Error("the switch's session table is full");
  }
}

/**
 * The original three-window demo's client, on the typed client: add a
 * session, get it, delete it, add a mirror and a forward session, then
 * collect closed sessions until both of those have ended in the switch (or
 * `closedTimeoutMs` passed). Prints the original's sections in its order,
 * with the values the servers answered.
 */
export async function runBasicDemo(client: OffloadClient, options: BasicDemoOptions): Promise<BasicDemoOutcome> {
  const { print } = options;
  const closedTimeoutMs = options.closedTimeoutMs ?? 60_000;
  const pollMs = options.pollMs ?? 500;

  print(banner("Add Session"));
  const firstId = await add(client, FIRST_SESSION, print);

  print(banner("Get Session"));
  print("Getting Session");
  const got = await client.getSession(firstId);
  if (got.kind === "found") for (const line of sessionLines(got.session, "0=ESTABLISHED")) print(line);
  else print(`Session ${firstId} not found`);

  print(banner("Delete Session"));
  print("Getting Session");
  const deleted = await client.deleteSession(firstId);
  if (deleted.kind === "found")
    for (const line of sessionLines(deleted.session, "0=ESTABLISHED 1=CLOSING_1")) print(line);
  else print(`Session ${firstId} not found`);

  print(banner("Add Mirror and Forward Session"));
  const mirrorId = await add(client, MIRROR_SESSION, print);
  const forwardId = await add(client, FORWARD_SESSION, print);

  print(banner("Check for Closed Sessions"));
  const waiting = new Set([mirrorId, forwardId]);
  const closed: Session[] = [];
  const giveUpAt = Date.now() + closedTimeoutMs;
  for (;;) {
    for await (const session of client.getClosedSessions({ signal: options.signal })) {
      closed.push(session);
      waiting.delete(session.id);
      print("### RECEIVED SESSION #####");
      for (const line of sessionLines(session, "0=ESTABLISHED 1=CLOSING_1 2=CLOSING_2 3=CLOSED")) print(line);
      print("##########################");
    }
    if (waiting.size === 0 || Date.now() >= giveUpAt || options.signal?.aborted) break;
    await delay(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
  if (waiting.size > 0) {
    print(`(still open after ${closedTimeoutMs / 1000} s: ${[...waiting].join(", ")})`);
  }
  return {
    firstId,
    got: got.kind === "found" ? got.session : undefined,
    deleted: deleted.kind === "found" ? deleted.session : undefined,
    mirrorId,
    forwardId,
    closed,
    complete: waiting.size === 0,
  };
}
