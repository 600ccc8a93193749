/**
 * The client window of the original demo: `npx tsx examples/basic/client.ts`
 * (or ./runClient.sh). Talks TLS to 127.0.0.1:3443 (sessions) and :3444
 * (statistics), trusting the servers' dev CA; see README.md.
 */
import { parseArgs } from "node:util";
import { createOffloadClient, OffloadError, ValidationError } from "@sessionoffload/offload-api";
import { runBasicDemo } from "./demo";
import { exampleCredentials } from "../shared/example-credentials";

const HELP = `usage: client.ts [options]
  --sessions HOST:PORT   sessions server (default 127.0.0.1:3443)
  --stats HOST:PORT      statistics server (default 127.0.0.1:3444)
  --ca FILE              CA certificate to trust (default ./.offload/tls/ca.crt, or $OFFLOAD_TLS_DIR/ca.crt)
  --insecure             plaintext, for servers started with --insecure
  --closed-timeout SECS  how long to wait for the sessions to end (default 60)
  -h, --help             this text`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "127.0.0.1:3443" },
      stats: { type: "string", default: "127.0.0.1:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      "closed-timeout": { type: "string", default: "60" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const closedTimeoutS = Number(values["closed-timeout"]);
  if (!Number.isFinite(closedTimeoutS) || closedTimeoutS < 0) {
    process.stderr.write(`client: --closed-timeout: expected seconds >= 0, got ${values["closed-timeout"]}\n`);
    return 2;
  }
  const client = createOffloadClient({
    sessionsAddress: values.sessions,
    statsAddress: values.stats,
    credentials: exampleCredentials(values),
  });
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  try {
    const outcome = await runBasicDemo(client, {
      print: (line) => process.stdout.write(`${line}\n`),
      closedTimeoutMs: closedTimeoutS * 1000,
      signal: stop.signal,
    });
    return outcome.complete ? 0 : 1;
  } finally {
    client.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof OffloadError || err instanceof ValidationError) {
      process.stderr.write(`client: ${err.message}\n`);
      if (err instanceof OffloadError && err.codeName === "UNAVAILABLE") {
        process.stderr.write("client: are ./runServer1.sh and ./runServer2.sh running (and do TLS settings match)?\n");
      }
    } else {
      process.stderr.write(`client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
