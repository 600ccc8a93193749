/**
 * Lists the switch's sessions every few seconds: id, state, close code,
 * counters and age. `npx tsx examples/watch/watch.ts --help`.
 */
import { setTimeout as delay } from "node:timers/promises";
import { createOffloadClient, dateToNanos, OffloadError, type Session } from "@sessionoffload/offload-api";
import { renderSessionTable } from "./session-table";
import { hostPortFlag, numberFlag, runCli } from "../support/cli";
import { exampleCredentials } from "../support/example-credentials";

runCli(
  {
    name: "watch",
    help: `usage: watch.ts [options]
  --stats HOST:PORT      statistics server (default localhost:3444)
  --ca FILE              CA certificate to trust (default: the dev CAs of npm start and the demo servers)
  --insecure             plaintext, for servers started with --insecure
  --interval SECS        time between two listings (default 2)
  --limit N              list at most N sessions (default 50; 0 = all)
  --once                 list once and exit`,
    options: {
      stats: { type: "string", default: "localhost:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      interval: { type: "string", default: "2" },
      limit: { type: "string", default: "50" },
      once: { type: "boolean", default: false },
    },
  },
  async ({ values, signal }) => {
    const intervalS = numberFlag("--interval", values.interval, { min: 0.01, max: 86_400 }) ?? 2;
    const limit = numberFlag("--limit", values.limit, { min: 0, max: 0xffff_ffff, integer: true }) ?? 50;
    const client = createOffloadClient({
      statsAddress: hostPortFlag("--stats", values.stats ?? "localhost:3444"),
      credentials: exampleCredentials(values),
    });
    const tty = process.stdout.isTTY === true && !values.once;
    try {
      while (!signal.aborted) {
        const sessions: Session[] = [];
        try {
          for await (const s of client.getAllSessions({ pageSize: limit, timeoutMs: 10_000, signal })) {
            sessions.push(s);
          }
        } catch (err) {
          if (signal.aborted) break;
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
        await delay(intervalS * 1000, undefined, { signal }).catch(() => undefined);
      }
      return 0;
    } finally {
      client.close();
    }
  },
);
