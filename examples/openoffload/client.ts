/**
 * The original demo's client window in the second generation (openoffload.v1):
 * `npx tsx examples/openoffload/client.ts` (or ./runClient.sh, npm run
 * demo:openoffload). Talks TLS to localhost:3443, trusting the server's dev
 * CA; see README.md.
 */
import { createOpenOffloadClient } from "@sessionoffload/offload-api";
import { runOpenOffloadDemo } from "./demo";
import { hostPortFlag, numberFlag, runCli, UsageError } from "../support/cli";
import { exampleCredentials } from "../support/example-credentials";

runCli(
  {
    name: "client",
    help: `usage: client.ts [options]
  --address HOST:PORT    server of openoffload.v1.SessionTable (default localhost:3443)
  --ca FILE              CA certificate to trust (default: the dev CAs of npm start and the demo servers)
  --insecure             plaintext, for servers started with --insecure
  --first-id N           first session id to assign (default: from the clock)
  --closed-timeout SECS  how long to wait for the sessions to end (default 60)`,
    options: {
      address: { type: "string", default: "localhost:3443" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      "first-id": { type: "string" },
      "closed-timeout": { type: "string", default: "60" },
    },
  },
  async ({ values, signal }) => {
    const closedTimeoutS = numberFlag("--closed-timeout", values["closed-timeout"], { min: 0, max: 86_400 }) ?? 60;
    const firstIdText = values["first-id"];
    if (firstIdText !== undefined && !/^[1-9]\d{0,19}$/.test(firstIdText)) {
      throw new UsageError(`--first-id: expected a positive integer, got ${firstIdText}`);
    }
    const client = createOpenOffloadClient({
      address: hostPortFlag("--address", values.address ?? "localhost:3443"),
      credentials: exampleCredentials(values),
    });
    try {
      const outcome = await runOpenOffloadDemo(client, {
        print: (line) => process.stdout.write(`${line}\n`),
        firstId: firstIdText === undefined ? undefined : BigInt(firstIdText),
        closedTimeoutMs: closedTimeoutS * 1000,
        signal,
      });
      return outcome.complete ? 0 : 1;
    } finally {
      client.close();
    }
  },
);
