#!/usr/bin/env -S node --max-semi-space-size=4
import { logVerbosity, setLogVerbosity } from "@grpc/grpc-js";
import { NetlinkError, NftError } from "@sessionoffload/switch-kernel";
import { SqliteSwitchOpenError } from "@sessionoffload/switch-sqlite";
import { SwitchOptionError } from "@sessionoffload/switch-backend";
import { parseCommandLine, UsageError } from "./command-line";
import { createLogger } from "./create-logger";
import { ListenError, startReferenceServer } from "./reference-server";
import { TlsFileError } from "./server-credentials";
import { DevTlsError } from "./dev-tls";
import { HostNameError } from "./host-names";

/** Exit code for a bad command line, a port in use or an unreadable TLS file. */
export const EXIT_USAGE = 2;

function fail(message: string): void {
  process.stderr.write(`offload-server: error: ${message}\n`);
  process.exitCode = EXIT_USAGE;
}

/**
 * The `offload-server` command. Prints to stdout, one per line:
 * `listening service=<name> address=<host:port> port=<port> tls=<on|off|mutual>`
 * (service sessions, stats, or metrics: plain HTTP),
 * then `trust ca=<path>` when the development CA is in use, then `ready`.
 * Logs JSON lines to stderr. SIGINT/SIGTERM stop it gracefully (exit 0); a
 * second signal cancels what is still running.
 */
async function main(argv: readonly string[]): Promise<void> {
  // grpc-js would also print bind failures on stderr; this command reports them in one line itself.
  if (process.env.GRPC_VERBOSITY === undefined) setLogVerbosity(logVerbosity.NONE);
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message);
    throw err;
  }
  if (parsed.kind === "shown") return;
  const { config } = parsed;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  let running;
  try {
    running = await startReferenceServer(config, { logger });
  } catch (err) {
    if (err instanceof ListenError || err instanceof TlsFileError) return fail(err.message);
    if (err instanceof DevTlsError || err instanceof HostNameError) return fail(err.message);
    if (err instanceof RangeError || err instanceof SwitchOptionError) return fail(err.message);
    if (err instanceof SqliteSwitchOpenError || err instanceof NftError || err instanceof NetlinkError) {
      return fail(err.message);
    }
    throw err;
  }
  const server = running;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: cancelling calls still running");
      server.forceStop();
      return;
    }
    logger.info({ signal }, "stopping");
    server.stop().then(
      () => {
        logger.info({}, "stopped");
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      },
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exitCode = 1;
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  for (const e of running.endpoints) {
    const tls = e.service === "metrics" ? "off" : running.tls;
    process.stdout.write(`listening service=${e.service} address=${e.address} port=${e.port} tls=${tls}\n`);
  }
  if (running.caCertPath !== undefined) process.stdout.write(`trust ca=${running.caCertPath}\n`);
  process.stdout.write("ready\n");
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`offload-server: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
