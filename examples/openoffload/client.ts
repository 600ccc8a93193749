/**
 * The original demo's client window in the second generation (openoffload.v1):
 * `npx tsx examples/openoffload/client.ts` (or ./runClient.sh, npm run
 * demo:openoffload). Talks TLS to 127.0.0.1:3443, trusting the server's dev
 * CA; see README.md.
 */
import { parseArgs } from "node:util";
import { createOpenOffloadClient, OffloadError, ValidationError } from "@sessionoffload/offload-api";
import { runOpenOffloadDemo } from "./demo";
import { exampleCredentials } from "../shared/example-credentials";

const HELP = `usage: client.ts [options]
  --address HOST:PORT    server of openoffload.v1.SessionTable (default 127.0.0.1:3443)
  --ca FILE              CA certificate to trust (default ./.offload/tls/ca.crt, or $OFFLOAD_TLS_DIR/ca.crt)
  --insecure             plaintext, for servers started with --insecure
  --first-id N           first session id to assign (default: from the clock)
  --closed-timeout SECS  how long to wait for the sessions to end (default 60)
  -h, --help             this text`;

function usage(message: string): number {
  process.stderr.write(`client: ${message}\n${HELP}\n`);
  return 2;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        address: { type: "string", default: "127.0.0.1:3443" },
        ca: { type: "string" },
        insecure: { type: "boolean", default: false },
        "first-id": { type: "string" },
        "closed-timeout": { type: "string", default: "60" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const closedTimeoutS = Number(values["closed-timeout"]);
  if (!Number.isFinite(closedTimeoutS) || closedTimeoutS < 0) {
    return usage(`--closed-timeout: expected seconds >= 0, got ${values["closed-timeout"]}`);
  }
  const firstIdText = values["first-id"];
  if (firstIdText !== undefined && !/^[1-9]\d*$/.test(firstIdText)) {
    return usage(`--first-id: expected a positive integer, got ${firstIdText}`);
  }
  const client = createOpenOffloadClient({ address: values.address, credentials: exampleCredentials(values) });
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  try {
    const outcome = await runOpenOffloadDemo(client, {
      print: (line) => process.stdout.write(`${line}\n`),
      firstId: firstIdText === undefined ? undefined : BigInt(firstIdText),
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
        process.stderr.write(
          "client: is the server running (./runServer.sh or npm start), and do TLS settings match?\n",
        );
      }
    } else {
      process.stderr.write(`client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
