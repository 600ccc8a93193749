/**
 * The one command-line helper of the examples and the bench: every command
 * parses its flags, answers --help and --version, reports a mistake in one
 * line with exit code 2, a server it cannot reach with exit code 3, a refusal
 * with exit code 1, and stops cleanly on SIGINT/SIGTERM, the same way.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { OffloadError, ValidationError } from "@sessionoffload/offload-api";

/** Exit codes shared by the examples, the bench and offloadctl. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

/** A mistake on the command line: one line on stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A command's description for `runCli`. */
export interface CliSpec<O extends NonNullable<ParseArgsConfig["options"]>> {
  /** The command's name in messages, e.g. "firewall-simulator". */
  readonly name: string;
  /** The --help text (usage and flags); --help and --version are added to it. */
  readonly help: string;
  /** node:util parseArgs options (without help and version). */
  readonly options: O;
  /** Whether positional arguments are allowed; default false. */
  readonly positionals?: boolean;
}

/** What `main` gets: the parsed flags, the positionals, and a signal that fires on SIGINT/SIGTERM. */
export interface CliRun<O extends NonNullable<ParseArgsConfig["options"]>> {
  readonly values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>["values"];
  readonly positionals: string[];
  readonly signal: AbortSignal;
}

/** The repository's version (the root package.json), which every example and the bench print for --version. */
export function repositoryVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")) as { version: string }).version;
}

/** The exit code and one line for an error `main` failed with; undefined for a bug (printed with its stack). */
export function describeCliFailure(err: unknown): { code: number; message: string } | undefined {
  if (err instanceof UsageError) return { code: EXIT.usage, message: err.message };
  if (err instanceof ValidationError) return { code: EXIT.usage, message: err.message };
  if (err instanceof OffloadError) {
    const unreachable = err.codeName === "UNAVAILABLE" || err.codeName === "DEADLINE_EXCEEDED";
    const hint = /not signed by a CA the client trusts/.test(err.message)
      ? "; pass the server's CA with --ca FILE (the server prints it as trust ca=PATH)"
      : "";
    return { code: unreachable ? EXIT.unreachable : EXIT.refused, message: `${err.message}${hint}` };
  }
  return undefined;
}

/**
 * Parses `argv` against `spec` (strictly: an unknown flag or a missing value
 * is a usage error) and answers --help and --version. Answers the flags and
 * positionals, or undefined when there is nothing more to do: help or version
 * was printed (exit code 0), or a mistake was reported in one line
 * `<name>: error: <message>` (exit code 2, set on `process.exitCode`).
 */
export function parseCli<O extends NonNullable<ParseArgsConfig["options"]>>(
  spec: CliSpec<O>,
  argv: readonly string[] = process.argv.slice(2),
): { values: CliRun<O>["values"]; positionals: string[] } | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...spec.options,
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    const text = unknown ? `unknown option '${unknown[1]}'` : (message.split("\n")[0] ?? message);
    reportFailure(spec.name, EXIT.usage, `${text} (see --help)`);
    return undefined;
  }
  const flags = parsed.values as { help?: boolean; version?: boolean };
  if (flags.help) {
    process.stdout.write(
      `${spec.help}\n  -V, --version          print the version and exit\n  -h, --help             this text\n`,
    );
    return undefined;
  }
  if (flags.version) {
    process.stdout.write(`${repositoryVersion()}\n`);
    return undefined;
  }
  if (!spec.positionals && parsed.positionals.length > 0) {
    reportFailure(spec.name, EXIT.usage, `unexpected argument '${parsed.positionals[0]}' (see --help)`);
    return undefined;
  }
  return { values: parsed.values as CliRun<O>["values"], positionals: parsed.positionals };
}

/** Writes `<name>: error: <message>` on stderr and sets the exit code. */
export function reportFailure(name: string, code: number, message: string): void {
  process.stderr.write(`${name}: error: ${message}\n`);
  process.exitCode = code;
}

/**
 * Runs a command: `parseCli`, then `main`, and exits with the code it
 * answers. Errors: `UsageError`/`ValidationError` exit 2, an `OffloadError`
 * exits 3 when the server cannot be reached and 1 otherwise, each as one line
 * `<name>: error: <message>`; anything else is a bug and printed with its
 * stack (exit 1). SIGINT/SIGTERM fire `signal` instead of killing the process.
 */
export function runCli<O extends NonNullable<ParseArgsConfig["options"]>>(
  spec: CliSpec<O>,
  main: (run: CliRun<O>) => Promise<number>,
  argv: readonly string[] = process.argv.slice(2),
): void {
  const parsed = parseCli(spec, argv);
  if (parsed === undefined) return;
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  main({ ...parsed, signal: stop.signal })
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        const failure = describeCliFailure(err);
        if (failure !== undefined) return reportFailure(spec.name, failure.code, failure.message);
        reportFailure(spec.name, 1, err instanceof Error ? (err.stack ?? err.message) : String(err));
      },
    )
    .finally(() => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    });
}

/** A number from flag `flag` within min..max (integer when `integer`); throws UsageError naming the flag. */
export function numberFlag(
  flag: string,
  text: string | undefined,
  range: { min: number; max: number; integer?: boolean },
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new UsageError(
      `${flag}: expected a${range.integer ? "n integer" : " number"} in ${range.min}..${range.max}, got ${text}`,
    );
  }
  if (range.integer && !Number.isInteger(value)) {
    throw new UsageError(`${flag}: expected an integer in ${range.min}..${range.max}, got ${text}`);
  }
  return value;
}

/** host:port of a server, from flag `flag`; throws UsageError naming the flag. */
export function hostPortFlag(flag: string, text: string): string {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new UsageError(`${flag}: expected HOST:PORT, got ${text}`);
  return text;
}

/**
 * For scripts that parse at the top level (the bench): `parseCli`, then
 * `read` the values; help, version, or a mistake (a `UsageError` from
 * `read`, reported in one line) end the process at once with their code.
 */
export function parseCliOrExit<O extends NonNullable<ParseArgsConfig["options"]>, T>(
  spec: CliSpec<O>,
  read: (parsed: { values: CliRun<O>["values"]; positionals: string[] }) => T,
  argv: readonly string[] = process.argv.slice(2),
): T {
  const parsed = parseCli(spec, argv);
  if (parsed === undefined) process.exit();
  try {
    return read(parsed);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    reportFailure(spec.name, EXIT.usage, err.message);
    process.exit();
  }
}
