/**
 * A long-running firewall that keeps offloading random IPv4 and IPv6 sessions
 * and reconciles the closed ones with its own table. Ctrl-C stops it with a
 * summary. `npx tsx examples/firewall-simulator/main.ts --help`.
 */
import { parseArgs } from "node:util";
import { createOffloadClient } from "@sessionoffload/offload-api";
import { createSeededRandom } from "@sessionoffload/switch-backend";
import { createFirewallSimulator } from "./simulator";
import { statusLine, summaryLines } from "./status-line";
import { exampleCredentials } from "../shared/example-credentials";

const HELP = `usage: main.ts [options]
  --sessions HOST:PORT   sessions server (default 127.0.0.1:3443)
  --stats HOST:PORT      statistics server (default 127.0.0.1:3444)
  --ca FILE              CA certificate to trust (default ./.offload/tls/ca.crt, or $OFFLOAD_TLS_DIR/ca.crt)
  --insecure             plaintext, for servers started with --insecure
  --rate N               sessions offered per second (default 200)
  --duration SECS        stop after this long (default: until Ctrl-C)
  --collect-interval MS  pause between closed-session sweeps (default 500)
  --seed N               seed of the random sessions (default: random)
  -h, --help             this text`;

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a number > 0, got ${text}`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "127.0.0.1:3443" },
      stats: { type: "string", default: "127.0.0.1:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      rate: { type: "string" },
      duration: { type: "string" },
      "collect-interval": { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let rate: number | undefined;
  let duration: number | undefined;
  let collectIntervalMs: number | undefined;
  let seed: number | undefined;
  try {
    rate = positive("rate", values.rate);
    duration = positive("duration", values.duration);
    collectIntervalMs = positive("collect-interval", values["collect-interval"]);
    seed = values.seed === undefined ? undefined : positive("seed", values.seed);
  } catch (err) {
    process.stderr.write(`firewall-simulator: ${(err as Error).message}\n`);
    return 2;
  }
  const client = createOffloadClient({
    sessionsAddress: values.sessions,
    statsAddress: values.stats,
    credentials: exampleCredentials(values),
  });
  const tty = process.stdout.isTTY === true;
  const simulator = createFirewallSimulator({
    client,
    ratePerSecond: rate,
    collectIntervalMs,
    random: seed === undefined ? undefined : createSeededRandom(seed).nextFloat,
    onStatus: (s) => process.stdout.write(tty ? `\r\x1b[2K${statusLine(s)}` : `${statusLine(s)}\n`),
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const timer = duration === undefined ? undefined : setTimeout(onSignal, duration * 1000);
  try {
    const final = await simulator.run(stop.signal);
    if (tty) process.stdout.write("\n");
    for (const line of summaryLines(final)) process.stdout.write(`${line}\n`);
    return 0;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
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
    process.stderr.write(`firewall-simulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
