/**
 * A long-running firewall that keeps offloading random IPv4 and IPv6 sessions
 * and reconciles the closed ones with its own table. Ctrl-C stops it with a
 * summary. `npx tsx examples/firewall-simulator/main.ts --help`.
 */
import { createOffloadClient } from "@sessionoffload/offload-api";
import { createSeededRandom } from "@sessionoffload/switch-backend";
import { createFirewallSimulator } from "./simulator";
import { statusLine, summaryLines } from "./status-line";
import { EXIT, hostPortFlag, numberFlag, reportFailure, runCli } from "../support/cli";
import { exampleCredentials } from "../support/example-credentials";

runCli(
  {
    name: "firewall-simulator",
    help: `usage: main.ts [options]
  --sessions HOST:PORT   sessions server (default localhost:3443)
  --stats HOST:PORT      statistics server (default localhost:3444)
  --ca FILE              CA certificate to trust (default: the dev CAs of npm start and the demo servers)
  --insecure             plaintext, for servers started with --insecure
  --rate N               sessions offered per second (default 200)
  --duration SECS        stop after this long (default: until Ctrl-C)
  --collect-interval MS  pause between closed-session sweeps (default 500)
  --seed N               seed of the random sessions (default: random)`,
    options: {
      sessions: { type: "string", default: "localhost:3443" },
      stats: { type: "string", default: "localhost:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      rate: { type: "string" },
      duration: { type: "string" },
      "collect-interval": { type: "string" },
      seed: { type: "string" },
    },
  },
  async ({ values, signal }) => {
    const rate = numberFlag("--rate", values.rate, { min: 0.001, max: 1e6 });
    const duration = numberFlag("--duration", values.duration, { min: 0.001, max: 1e7 });
    const collectIntervalMs = numberFlag("--collect-interval", values["collect-interval"], { min: 1, max: 3.6e6 });
    const seed = numberFlag("--seed", values.seed, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    const client = createOffloadClient({
      sessionsAddress: hostPortFlag("--sessions", values.sessions ?? "localhost:3443"),
      statsAddress: hostPortFlag("--stats", values.stats ?? "localhost:3444"),
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
    const onStop = (): void => stop.abort();
    signal.addEventListener("abort", onStop);
    const timer = duration === undefined ? undefined : setTimeout(onStop, duration * 1000);
    try {
      const final = await simulator.run(stop.signal);
      if (tty) process.stdout.write("\n");
      for (const line of summaryLines(final)) process.stdout.write(`${line}\n`);
      if (final.offloaded === 0 && final.rejected === 0 && final.duplicates === 0 && final.lastError !== undefined) {
        // Not one call went through: say so as every command does for a server it cannot reach.
        reportFailure("firewall-simulator", EXIT.unreachable, `no call reached the server (last: ${final.lastError})`);
        return EXIT.unreachable;
      }
      return 0;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener("abort", onStop);
      client.close();
    }
  },
);
