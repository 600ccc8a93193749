/**
 * Test fixtures of the client tests: real servers (session and statistics)
 * over one memory switch, on 127.0.0.1:0, and a client pointed at them.
 */
import { createInsecureCredentials, type OffloadCredentials } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer, type StatisticsStreamHooks } from "@sessionoffload/stats-server";
import { createMemorySwitch, type MemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import {
  createOffloadClient,
  type OffloadClient,
  type OffloadClientOptions,
  type SessionInput,
  type SessionSpec,
} from "../src";

/** Two real servers over one switch, and a client of both. */
export interface Fixture {
  readonly backend: MemorySwitch;
  readonly client: OffloadClient;
  readonly sessionsAddress: string;
  readonly statsAddress: string;
  /** Closes the client, the servers (forcefully after 2 s) and the switch. */
  close(): Promise<void>;
}

/** Options of `startFixture`. */
export interface FixtureOptions {
  readonly capacity?: number;
  /** Wraps the switch the servers use (to slow it down or make it fail). */
  readonly wrapBackend?: (backend: MemorySwitch) => SwitchBackend;
  readonly hooks?: StatisticsStreamHooks;
  readonly client?: OffloadClientOptions;
  readonly serverCredentials?: OffloadCredentials;
}

/** Starts the fixture; `close()` it in afterEach. */
export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const backend = createMemorySwitch({ capacity: options.capacity ?? 10_000, tickIntervalMs: 0, traffic: false });
  const served = options.wrapBackend?.(backend) ?? backend;
  const credentials = options.serverCredentials ?? createInsecureCredentials();
  const sessionsServer = createSessionServer({ backend: served, credentials, shutdownTimeoutMs: 2000 });
  const statsServer = createStatsServer({
    backend: served,
    credentials,
    hooks: options.hooks,
    shutdownTimeoutMs: 2000,
  });
  const sessionsAddress = `127.0.0.1:${await sessionsServer.listen("127.0.0.1:0")}`;
  const statsAddress = `127.0.0.1:${await statsServer.listen("127.0.0.1:0")}`;
  const client = createOffloadClient({
    sessionsAddress,
    statsAddress,
    credentials: { insecure: true },
    ...options.client,
  });
  return {
    backend,
    client,
    sessionsAddress,
    statsAddress,
    async close() {
      client.close();
      await Promise.all([sessionsServer.shutdown(), statsServer.shutdown()]);
      backend.close();
    },
  };
}

/** A distinct IPv4 TCP forward session for each `n`. */
export function tcpSession(n: number, overrides: Partial<SessionInput> = {}): SessionInput {
  return {
    sourceIp: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    sourcePort: 1024 + (n % 60000),
    destinationIp: "192.0.2.80",
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    ...overrides,
  };
}

/** The switch-side spec of `tcpSession(n)`, for filling a table without a call per session. */
export function tcpSpec(n: number): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.from([10, (n >> 16) & 255, (n >> 8) & 255, n & 255]),
    sourcePort: 1024 + (n % 60000),
    destinationIp: Uint8Array.from([192, 0, 2, 80]),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
  };
}

/** Adds `count` sessions straight into the switch; answers their ids. */
export function fill(backend: MemorySwitch, count: number): bigint[] {
  const ids: bigint[] = [];
  for (let n = 0; n < count; n++) {
    const result = backend.add(tcpSpec(n));
    if (result.kind !== "accepted") throw new Error(`fill: ${result.kind} at ${n}`);
    ids.push(result.session.id);
  }
  return ids;
}
