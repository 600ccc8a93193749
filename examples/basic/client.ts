/**
 * The client window of the original demo: `npx tsx examples/basic/client.ts`
 * (or ./runClient.sh). Talks TLS to localhost:3443 (sessions) and :3444
 * (statistics), trusting the servers' dev CA; see README.md.
 */
import { createOffloadClient } from "@sessionoffload/offload-api";
import { runBasicDemo } from "./demo";
import { hostPortFlag, numberFlag, runCli } from "../support/cli";
import { exampleCredentials } from "../support/example-credentials";

runCli(
  {
    name: "client",
    help: `usage: client.ts [options]
  --sessions HOST:PORT   sessions server (default localhost:3443)
  --stats HOST:PORT      statistics server (default localhost:3444)
  --ca FILE              CA certificate to trust (default: the dev CAs of npm start and the demo servers)
  --insecure             plaintext, for servers started with --insecure
  --closed-timeout SECS  how long to wait for the sessions to end (default 60)`,
    options: {
      sessions: { type: "string", default: "localhost:3443" },
      stats: { type: "string", default: "localhost:3444" },
      ca: { type: "string" },
      insecure: { type: "boolean", default: false },
      "closed-timeout": { type: "string", default: "60" },
    },
  },
  async ({ values, signal }) => {
    const closedTimeoutS = numberFlag("--closed-timeout", values["closed-timeout"], { min: 0, max: 86_400 }) ?? 60;
    const client = createOffloadClient({
      sessionsAddress: hostPortFlag("--sessions", values.sessions ?? "localhost:3443"),
      statsAddress: hostPortFlag("--stats", values.stats ?? "localhost:3444"),
      credentials: exampleCredentials(values),
    });
    try {
      const outcome = await runBasicDemo(client, {
        print: (line) => process.stdout.write(`${line}\n`),
        closedTimeoutMs: closedTimeoutS * 1000,
        signal,
      });
      return outcome.complete ? 0 : 1;
    } finally {
      client.close();
    }
  },
);
