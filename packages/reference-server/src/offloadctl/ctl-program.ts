import { Command, CommanderError, Option } from "commander";
import {
  createChannelCredentials,
  createOffloadClient,
  dateToNanos,
  type OffloadClient,
  type Session,
  type SessionLookup,
} from "@sessionoffload/offload-api";
import { SESSION_STATISTICS_SERVICE_NAME, SESSION_TABLE_SERVICE_NAME } from "@sessionoffload/offload-api/descriptors";
import { packageVersion } from "../version";
import {
  clientOptions,
  hostPort,
  integerIn,
  ipAddress,
  ipPort,
  seconds,
  sessionId,
  type GlobalOptions,
} from "./ctl-options";
import { CtlUsageError, describeFailure, EXIT } from "./exit-codes";
import { checkHealth, type HealthStatus } from "./health-check";
import { addResultToJson, describeSession, sessionHeader, sessionLine, sessionToJson } from "./session-format";
import { runWatch, type WatchTerminal } from "./watch-terminal";

/** What offloadctl reads and writes: injectable, so that tests can run it in process too. */
export interface CtlIo {
  /** Results. */
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  /** Errors and notes. */
  readonly stderr: { write(text: string): unknown };
  /** Keys for `watch` on a terminal. */
  readonly stdin?: WatchTerminal["keys"] & { readonly isTTY?: boolean };
  /** Environment (OFFLOAD_TLS_DIR); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory (the default CA); default process.cwd(). */
  readonly cwd?: string;
  /** Fires on SIGINT/SIGTERM: `closed --follow` and `watch` stop cleanly. */
  readonly signal?: AbortSignal;
}

const PROTOCOLS = ["tcp", "udp"] as const;
const ACTIONS = ["forward", "drop", "mirror", "snoop"] as const;

interface Context {
  readonly io: CtlIo;
  readonly globals: GlobalOptions;
  readonly client: OffloadClient;
  readonly out: (line: string) => void;
  readonly signal: AbortSignal;
}

type Action = (ctx: Context, ...args: never[]) => Promise<number>;

function nowNs(): bigint {
  return dateToNanos(new Date());
}

async function add(
  ctx: Context,
  o: {
    source: { ip: string; port: number };
    destination: { ip: string; port: number };
    protocol: (typeof PROTOCOLS)[number];
    action: (typeof ACTIONS)[number];
    nextHop?: string;
    inLif?: string;
    outLif?: string;
    json?: boolean;
  },
): Promise<number> {
  const result = await ctx.client.addSession(
    {
      sourceIp: o.source.ip,
      sourcePort: o.source.port,
      destinationIp: o.destination.ip,
      destinationPort: o.destination.port,
      protocol: o.protocol,
      action: o.action,
      nextHop: o.nextHop,
      inLif: o.inLif,
      outLif: o.outLif,
    },
    { signal: ctx.signal },
  );
  if (o.json) ctx.out(JSON.stringify(addResultToJson(result)));
  else if (result.kind === "accepted") ctx.out(`accepted: session ${result.id}`);
  else if (result.kind === "alreadyExists") ctx.out(`already exists: session ${result.id} has this 7-tuple`);
  else ctx.out("table full: the switch has no room for another session");
  return result.kind === "accepted" ? EXIT.ok : EXIT.refused;
}

function lookupResult(ctx: Context, id: bigint, lookup: SessionLookup, json: boolean | undefined): number {
  if (lookup.kind === "notFound") {
    if (json) ctx.out(JSON.stringify({ kind: "notFound", id: String(id) }));
    else ctx.io.stderr.write(`offloadctl: session ${id}: not found\n`);
    return EXIT.refused;
  }
  if (json) ctx.out(JSON.stringify({ kind: "found", session: sessionToJson(lookup.session) }));
  else for (const line of describeSession(lookup.session)) ctx.out(line);
  return EXIT.ok;
}

async function list(ctx: Context, o: { json?: boolean; limit: number }): Promise<number> {
  const now = nowNs();
  let count = 0;
  if (!o.json) ctx.out(sessionHeader());
  for await (const s of ctx.client.getAllSessions({
    pageSize: o.limit,
    timeoutMs: streamTimeout(ctx),
    signal: ctx.signal,
  })) {
    ctx.out(o.json ? JSON.stringify(sessionToJson(s)) : sessionLine(s, now));
    count += 1;
  }
  if (!o.json)
    ctx.out(`${count} session${count === 1 ? "" : "s"}${o.limit > 0 && count === o.limit ? " (--limit reached)" : ""}`);
  return EXIT.ok;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

// Collected sessions leave the table as the server writes them: a call is never cancelled half-way
// (its sessions would be lost), so a stop request takes effect between calls.
async function closed(ctx: Context, o: { json?: boolean; follow?: boolean; interval: number }): Promise<number> {
  let header = !o.json;
  for (;;) {
    const now = nowNs();
    const batch: Session[] = [];
    for await (const s of ctx.client.getClosedSessions()) batch.push(s);
    for (const s of batch) {
      if (header) {
        ctx.out(sessionHeader());
        header = false;
      }
      ctx.out(o.json ? JSON.stringify(sessionToJson(s)) : sessionLine(s, now));
    }
    if (!o.follow || ctx.signal.aborted) return EXIT.ok;
    await wait(o.interval, ctx.signal);
    if (ctx.signal.aborted) return EXIT.ok;
  }
}

async function count(ctx: Context, o: { json?: boolean }): Promise<number> {
  let n = 0;
  for await (const s of ctx.client.getAllSessions({ timeoutMs: streamTimeout(ctx), signal: ctx.signal })) if (s) n += 1;
  ctx.out(o.json ? JSON.stringify({ sessions: n }) : String(n));
  return EXIT.ok;
}

async function health(ctx: Context, o: { json?: boolean }): Promise<number> {
  const options = clientOptions(ctx.globals, ctx.io.env ?? process.env, ctx.io.cwd ?? process.cwd());
  const credentials = createChannelCredentials(options.credentials);
  const channelOptions =
    options.serverName === undefined ? undefined : { "grpc.ssl_target_name_override": options.serverName };
  const targets = [
    { name: "sessions", address: ctx.globals.sessions, service: SESSION_TABLE_SERVICE_NAME },
    { name: "stats", address: ctx.globals.stats, service: SESSION_STATISTICS_SERVICE_NAME },
  ];
  const answers = await Promise.all(
    targets.map(async (t) => {
      try {
        const status = await checkHealth(t.address, t.service, credentials, {
          timeoutMs: ctx.globals.timeout,
          channelOptions,
        });
        return { ...t, status, error: undefined as string | undefined, code: status === "SERVING" ? 0 : EXIT.refused };
      } catch (err) {
        const failure = describeFailure(err);
        if (failure === undefined) throw err;
        return {
          ...t,
          status: "UNREACHABLE" as HealthStatus | "UNREACHABLE",
          error: failure.message,
          code: failure.code,
        };
      }
    }),
  );
  for (const a of answers) {
    if (o.json)
      ctx.out(
        JSON.stringify({
          server: a.name,
          address: a.address,
          service: a.service,
          status: a.status,
          ...(a.error ? { error: a.error } : {}),
        }),
      );
    else ctx.out(`${a.name.padEnd(8)}  ${a.address}  ${a.service}  ${a.status}${a.error ? `: ${a.error}` : ""}`);
  }
  return Math.max(...answers.map((a) => a.code));
}

async function watch(ctx: Context, o: { interval: number; top: number; frames?: number }): Promise<number> {
  const stdin = ctx.io.stdin;
  const isTty = ctx.io.stdout.isTTY === true;
  await runWatch(
    {
      write: (text) => void ctx.io.stdout.write(text),
      isTty,
      keys: isTty && stdin?.isTTY === true ? stdin : undefined,
    },
    {
      client: ctx.client,
      address: ctx.globals.stats,
      intervalMs: o.interval,
      top: o.top,
      frames: o.frames,
      signal: ctx.signal,
    },
  );
  return EXIT.ok;
}

// Streams get --timeout only when it was given: listing a large table takes longer than a unary call.
function streamTimeout(ctx: Context): number | undefined {
  return ctx.globals.timeoutGiven ? ctx.globals.timeout : undefined;
}

/** The commander program of offloadctl; each subcommand's action runs `run` with its handler. */
function createProgram(run: (action: Action, ...args: unknown[]) => Promise<void>): Command {
  const program = new Command("offloadctl")
    .description(
      "Operator's command for a session offload server: add, look at and take back sessions, collect closed " +
        "ones, watch the table, check health. Exit codes: 0 ok, 1 not found or refused, 2 usage, 3 unreachable.",
    )
    .addOption(
      new Option("--sessions <host:port>", "the sessions service (SessionTable)")
        .default("localhost:3443")
        .argParser(hostPort),
    )
    .addOption(
      new Option("--stats <host:port>", "the statistics service (SessionStatisticsTable)")
        .default("localhost:3444")
        .argParser(hostPort),
    )
    .option(
      "--ca <file>",
      "CA certificate to trust (default: $OFFLOAD_TLS_DIR/ca.crt or ./.offload/tls/ca.crt if there, else the system's roots)",
    )
    .option("--cert <file>", "client certificate, for mutual TLS (with --key)")
    .option("--key <file>", "client private key, for mutual TLS (with --cert)")
    .option("--insecure", "plaintext, for a server started with --insecure")
    .option("--server-name <name>", "name to check the server's certificate against, instead of the target's host")
    .addOption(
      new Option("--timeout <seconds>", "time budget of each call (retries included); listings have none unless given")
        .default(10_000, "10")
        .argParser(seconds),
    )
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help")
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .exitOverride();

  program
    .command("add")
    .description("offload a session; prints its id (exit 1 when it already exists or the table is full)")
    .requiredOption(
      "--source <ip:port>",
      "source address and port, e.g. 192.0.2.1:40000 or [2001:db8::1]:40000",
      ipPort,
    )
    .requiredOption("--destination <ip:port>", "destination address and port", ipPort)
    .addOption(new Option("--protocol <protocol>", "tcp or udp").choices(PROTOCOLS).makeOptionMandatory())
    .addOption(
      new Option("--action <action>", "what the switch does with the packets").choices(ACTIONS).makeOptionMandatory(),
    )
    .option("--next-hop <ip>", "next hop address (needed for mirror and snoop)", ipAddress)
    .option("--in-lif <name>", "ingress logical interface")
    .option("--out-lif <name>", "egress logical interface")
    .option("--json", "print the result as JSON")
    .action((o) => run(add, o));

  program
    .command("get")
    .description("show a session (exit 1 when there is none with that id)")
    .argument("<id>", "session id", sessionId)
    .option("--json", "print the session as JSON")
    .action((id: bigint, o: { json?: boolean }) =>
      run(async (ctx: Context) =>
        lookupResult(ctx, id, await ctx.client.getSession(id, { signal: ctx.signal }), o.json),
      ),
    );

  program
    .command("delete")
    .description("take a session back; prints its final counters (exit 1 when there is none with that id)")
    .argument("<id>", "session id", sessionId)
    .option("--json", "print the session as JSON")
    .action((id: bigint, o: { json?: boolean }) =>
      run(async (ctx: Context) =>
        lookupResult(ctx, id, await ctx.client.deleteSession(id, { signal: ctx.signal }), o.json),
      ),
    );

  program
    .command("list")
    .description("list the table's sessions in id order (live and ended-not-collected)")
    .option("--json", "one JSON object per line")
    .addOption(new Option("--limit <n>", "list at most N (0 = all)").default(0).argParser(integerIn(0, 0xffff_ffff)))
    .action((o) => run(list, o));

  program
    .command("closed")
    .description(
      "collect ended sessions and print them; collected sessions leave the table, so do not run it beside an " +
        "application that collects them",
    )
    .option("--follow", "keep collecting until interrupted")
    .addOption(
      new Option("--interval <seconds>", "pause between two collections with --follow")
        .default(1000, "1")
        .argParser(seconds),
    )
    .option("--json", "one JSON object per line")
    .action((o) => run(closed, o));

  program
    .command("count")
    .description("count the table's entries (reads the whole table; the metrics' offload_sessions is cheaper)")
    .option("--json", 'print {"sessions": N}')
    .action((o) => run(count, o));

  program
    .command("watch")
    .description(
      "live view: table size, adds and ends by close code per second, busiest sessions; q or Ctrl-C quits " +
        "(reads the whole table each refresh)",
    )
    .addOption(new Option("--interval <seconds>", "time between two refreshes").default(2000, "2").argParser(seconds))
    .addOption(
      new Option("--top <n>", "how many of the busiest sessions to show").default(10).argParser(integerIn(0, 1000)),
    )
    .addOption(
      new Option("--frames <n>", "stop after N refreshes (default: until q or Ctrl-C)").argParser(
        integerIn(1, 1_000_000),
      ),
    )
    .action((o) => run(watch, o));

  program
    .command("health")
    .description("ask both services' health (grpc.health.v1); exit 0 when both are SERVING")
    .option("--json", "one JSON object per service")
    .action((o) => run(health, o));

  return program;
}

/**
 * Runs offloadctl with `argv` (without node and the script) and answers its
 * exit code (see `EXIT`). Every mistake and failure is one line on stderr
 * (`offloadctl: error: ...`); help and version go to stdout.
 */
export async function runOffloadctl(argv: readonly string[], io: CtlIo): Promise<number> {
  let code: number = EXIT.ok;
  let client: OffloadClient | undefined;
  const fail = (exit: number, message: string): number => {
    io.stderr.write(`offloadctl: error: ${message}\n`);
    return exit;
  };
  const program = createProgram(async (action, ...args) => {
    const globals = {
      ...program.opts<GlobalOptions>(),
      timeoutGiven: program.getOptionValueSource("timeout") === "cli",
    };
    const options = clientOptions(globals, io.env ?? process.env, io.cwd ?? process.cwd());
    client = createOffloadClient(options);
    const ctx: Context = {
      io,
      globals,
      client,
      out: (line) => void io.stdout.write(`${line}\n`),
      signal: io.signal ?? new AbortController().signal,
    };
    code = await (action as (ctx: Context, ...rest: unknown[]) => Promise<number>)(ctx, ...args);
  });
  program.configureOutput({
    writeOut: (text) => void io.stdout.write(text),
    writeErr: (text) => void io.stderr.write(text),
    outputError: () => undefined,
  });
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      outputError: () => undefined,
    });
  }
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok;
      const sub = argv.find((arg) => program.commands.some((c) => c.name() === arg));
      const help = sub === undefined || sub === "help" ? "offloadctl --help" : `offloadctl ${sub} --help`;
      return fail(EXIT.usage, `${err.message.replace(/^error: /, "")} (see ${help})`);
    }
    if (io.signal?.aborted) return EXIT.interrupted;
    const failure = describeFailure(err);
    if (failure === undefined) throw err;
    const hint =
      /not signed by a CA the client trusts/.test(failure.message) && program.opts<GlobalOptions>().ca === undefined
        ? "; pass the server's CA with --ca (the reference server prints it as trust ca=PATH)"
        : "";
    return fail(failure.code, `${failure.message}${hint}`);
  } finally {
    client?.close();
  }
}

export { CtlUsageError };
