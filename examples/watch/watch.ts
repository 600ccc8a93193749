/**
 * Lists the switch's sessions every few seconds: id, state, close code,
 * counters and age. `npx tsx examples/watch/watch.ts --help`.
 */
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createOffloadClient, dateToNanos, OffloadError, type Session } from "@sessionoffload/offload-api";
import { renderSessionTable } from "./session-table";
import { exampleCredentials } from "../shared/example-credentials";

const HELP = `usage: watch.ts [options]
  --stats HOST:PORT   statistics server (default 127.0.0.1:3444)
  --ca FILE           CA certificate to trust (default ./.offload/tls/ca.crt, or $OFFLOAD_TLS_DIR/ca.crt)
  --insecure          plaintext, for servers started with --insecure
  --interval SECS     time between two listings (default 2)
  --limit N           list at most N sessions (default 50; 0 = all)
  --once              list once and exit
  -h, --help          this text`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stats: { type: "string", default: "127.0.0.1:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      interval: { type: "string", default: "2" },
      limit: { type: "string", default: "50" },
      once: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const intervalS = Number(values.interval);
  const limit = Number(values.limit);
  if (!Number.isFinite(intervalS) || intervalS <= 0) {
    process.stderr.write(`watch: --interval: expected seconds > 0, got ${values.interval}\n`);
    return 2;
  }
  if (!Number.isInteger(limit) || limit < 0) {
    process.stderr.write(`watch: --limit: expected an integer >= 0, got ${values.limit}\n`);
    return 2;
  }
  const client = createOffloadClient({
    statsAddress: values.stats,
    credentials: exampleCredentials(values),
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const tty = process.stdout.isTTY === true && !values.once;
  try {
    while (!stop.signal.aborted) {
      const sessions: Session[] = [];
      try {
        for await (const s of client.getAllSessions({ pageSize: limit, timeoutMs: 10_000, signal: stop.signal })) {
          sessions.push(s);
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        if (values.once || !(err instanceof OffloadError)) throw err;
        process.stderr.write(`watch: ${err.message}\n`);
      }
      const now = new Date();
      const lines = [
        `${sessions.length}${limit > 0 && sessions.length === limit ? "+" : ""} sessions at ${now.toISOString()}`,
        ...renderSessionTable(sessions, dateToNanos(now)),
      ];
      process.stdout.write(`${tty ? "\x1b[2J\x1b[H" : ""}${lines.join("\n")}\n`);
      if (values.once) break;
      await delay(intervalS * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    client.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`watch: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
