/**
 * Micro-benchmark of the SQLite switch next to the memory switch. Not part of
 * `npm test`.
 *
 *   npx tsx bench/sqlite-switch.ts [inProcessAdds] [grpcAdds]
 *
 * 1. In process: adds/s awaiting each add at concurrency 1 and 64, for the
 *    memory switch and the SQLite switch with synchronous FULL and NORMAL,
 *    plus the group commits that the SQLite adds took.
 * 2. Through the gRPC server: a child process serves `createSessionServer`
 *    (plaintext, 127.0.0.1:0) over each switch; this process drives addSession
 *    at concurrency 64 with a grpc-js client and reports adds/s.
 * 3. Two processes adding at once (concurrency 64 each) into one SQLite file
 *    with synchronous FULL: combined adds/s over the wall time.
 * Database files go to a fresh directory under the OS temp dir, removed at the end.
 */
import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { credentials as clientCredentials } from "@grpc/grpc-js";
import { sessionsV1, type SessionSpec } from "@sessionoffload/offload-api";
import { createSessionServer } from "@sessionoffload/session-server";
import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { createSqliteSwitch } from "@sessionoffload/switch-sqlite";
import { numberFlag, parseCliOrExit, UsageError } from "../examples/support/cli";

type Kind = "memory" | "sqlite-full" | "sqlite-normal";

function makeBackend(kind: Kind, file: string, capacity: number): SwitchBackend {
  if (kind === "memory") return createMemorySwitch({ capacity, traffic: false, tickIntervalMs: 0 });
  const synchronous = kind === "sqlite-full" ? "full" : "normal";
  return createSqliteSwitch({ path: file, capacity, traffic: false, tickIntervalMs: 0, synchronous });
}

function specFor(i: number): SessionSpec {
  return {
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255),
    sourcePort: 1024 + ((i >>> 24) & 255),
    destinationIp: Uint8Array.of(192, 0, 2, 1),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
  };
}

async function inProcess(kind: Kind, dir: string, adds: number, concurrency: number): Promise<string> {
  const file = path.join(dir, `${kind}-${concurrency}.db`);
  const backend = makeBackend(kind, file, adds);
  let next = 0;
  const start = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < adds) {
      const result = await backend.add(specFor(next++));
      if (result.kind !== "accepted") throw new Error(`add answered ${result.kind}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stats = "commitStats" in backend ? (backend as ReturnType<typeof createSqliteSwitch>).commitStats() : undefined;
  await backend.close();
  const commits =
    stats === undefined ? "" : `, ${stats.commits} commits (${(stats.adds / stats.commits).toFixed(1)} adds/commit)`;
  return `${kind.padEnd(14)} c=${String(concurrency).padEnd(3)} ${(adds / seconds).toFixed(0).padStart(8)} adds/s  (${adds} in ${(seconds * 1000).toFixed(0)} ms${commits})`;
}

/** Child mode: serve the session table over one switch and print the port. */
async function serve(kind: Kind, file: string, capacity: number): Promise<void> {
  const backend = makeBackend(kind, file, capacity);
  const server = createSessionServer({
    backend,
    credentials: createInsecureCredentials(),
    health: false,
    reflection: false,
  });
  const port = await server.listen("127.0.0.1:0");
  process.stdout.write(`port ${port}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    void server.shutdown().then(() => backend.close());
  });
}

async function throughServer(kind: Kind, dir: string, adds: number, concurrency: number): Promise<string> {
  const file = path.join(dir, `grpc-${kind}.db`);
  const child = spawn(process.execPath, ["--import", "tsx", __filename, "--serve", kind, file, String(adds)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("port ")) resolve(Number(line.slice(5)));
    });
    child.on("exit", (code) => reject(new Error(`server child exited ${code}`)));
  });
  const client = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, clientCredentials.createInsecure());
  const request = (i: number): sessionsV1.sessionRequest =>
    sessionsV1.sessionRequest.fromPartial({
      inLif: "eth0",
      outLif: "eth1",
      ipVersion: sessionsV1.IP_VERSION._IPV4,
      sourceIp: Buffer.from([10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]),
      sourcePort: 1024 + ((i >>> 24) & 255),
      destinationIp: Buffer.from([192, 0, 2, 1]),
      destinationPort: 443,
      protocolId: sessionsV1.PROTOCOL_ID._TCP,
      action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
    });
  const call = (i: number): Promise<void> =>
    new Promise((resolve, reject) =>
      client.addSession(request(i), (err, res) => {
        if (err) reject(err);
        else if (res?.requestStatus !== sessionsV1.REQUEST_STATUS._ACCEPTED)
          reject(new Error(`status ${res?.requestStatus}`));
        else resolve();
      }),
    );
  await call(adds + 1); // connect and warm up
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < adds) await call(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  client.close();
  child.stdin.end();
  await new Promise((resolve) => child.on("exit", resolve));
  return `${kind.padEnd(14)} c=${String(concurrency).padEnd(3)} ${(adds / seconds).toFixed(0).padStart(8)} adds/s through gRPC  (${adds} in ${(seconds * 1000).toFixed(0)} ms)`;
}

/** Child mode: add `adds` sessions (7-tuples offset by `base`) at concurrency 64, then print `done`. */
async function addInChild(file: string, adds: number, base: number): Promise<void> {
  const backend = createSqliteSwitch({ path: file, capacity: 10_000_000, traffic: false, tickIntervalMs: 0 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < adds) {
        const result = await backend.add(specFor(base + next++));
        if (result.kind !== "accepted") throw new Error(`add answered ${result.kind}`);
      }
    }),
  );
  backend.close();
  process.stdout.write("done\n");
}

async function twoProcesses(dir: string, adds: number): Promise<string> {
  const file = path.join(dir, "two-process.db");
  createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 }).close();
  const start = process.hrtime.bigint();
  await Promise.all(
    [0, 1].map(
      (n) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ["--import", "tsx", __filename, "--add", file, String(adds), String(n * 2 ** 24)],
            {
              stdio: ["ignore", "ignore", "inherit"],
            },
          );
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`adder exited ${code}`))));
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const check = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
  const size = check.size();
  check.close();
  if (size !== 2 * adds) throw new Error(`expected ${2 * adds} sessions, found ${size}`);
  return `2 processes x c=64  ${((2 * adds) / seconds).toFixed(0).padStart(8)} adds/s combined  (${2 * adds} in ${(seconds * 1000).toFixed(0)} ms wall, incl. process start)`;
}

async function main(): Promise<void> {
  const [flag, kind, file, capacity] = process.argv.slice(2);
  // The benchmark's own child processes.
  if (flag === "--serve") return serve(kind as Kind, file ?? "", Number(capacity) + 10);
  if (flag === "--add") return addInChild(kind ?? "", Number(file), Number(capacity));
  const [inProcessAdds, grpcAdds] = parseCliOrExit(
    {
      name: "sqlite-switch",
      help:
        "usage: npx tsx bench/sqlite-switch.ts [IN_PROCESS_ADDS [GRPC_ADDS]]\n" +
        "  IN_PROCESS_ADDS        adds into the switch in process (default 20000)\n" +
        "  GRPC_ADDS              adds through the gRPC session server (default 20000)",
      options: {},
      positionals: true,
    },
    ({ positionals }) => {
      const count = (name: string, text: string | undefined) =>
        numberFlag(name, text ?? "20000", { min: 1, max: 10_000_000, integer: true }) as number;
      if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}' (see --help)`);
      return [count("IN_PROCESS_ADDS", positionals[0]), count("GRPC_ADDS", positionals[1])];
    },
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sqlite-"));
  console.log(`node ${process.version}, ${os.cpus().length} cores, files in ${dir}`);
  try {
    console.log("-- in process (each add awaited; c = adds in flight)");
    for (const kindName of ["memory", "sqlite-full", "sqlite-normal"] as const) {
      // At c=1 every add is its own commit: fewer adds keep the run short.
      console.log(await inProcess(kindName, dir, Math.min(inProcessAdds, 2_000), 1));
      console.log(await inProcess(kindName, dir, inProcessAdds, 64));
    }
    console.log("-- through the gRPC session server (server in a child process)");
    for (const kindName of ["memory", "sqlite-full", "sqlite-normal"] as const) {
      console.log(await throughServer(kindName, dir, grpcAdds, 64));
    }
    console.log("-- two processes adding into one file (synchronous FULL)");
    console.log(await twoProcesses(dir, inProcessAdds));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`sqlite-switch: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
