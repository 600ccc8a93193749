import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One JSON command of the nft JSON schema (libnftables-json(5)), e.g. `{ add: { table: {...} } }`. */
export type NftCommand = Record<string, unknown>;

/** Options of `createNftRunner`. */
export interface NftRunnerOptions {
  /** Network namespace to run nft in (via `ip netns exec NAME nft ...`); default: the current one. */
  readonly netns?: string;
  /** Path or name of the nft binary; default `nft`. */
  readonly nftPath?: string;
  /** Path or name of the ip binary (iproute2), used with `netns`; default `ip`. */
  readonly ipPath?: string;
}

/** Runs nft in JSON mode: one process per call, never one per session. */
export interface NftRunner {
  /** Applies the commands as one atomic batch (`nft -j -f FILE`, the file written to the temp directory); rejects with nft's message if the kernel refused any. */
  apply(commands: readonly NftCommand[]): Promise<void>;
  /** Runs `nft -j <args...>` and parses its JSON output (`list ...` commands). */
  query(args: readonly string[]): Promise<NftJsonOutput>;
  /** Runs `nft <args...>` and answers its text output (for commands nft cannot answer in JSON). */
  text(args: readonly string[]): Promise<string>;
  /** Applies an nft script (text) as one atomic batch (`nft -f FILE`). */
  script(text: string): Promise<void>;
}

/** The top-level object nft prints in JSON mode. */
export interface NftJsonOutput {
  readonly nftables: readonly Record<string, unknown>[];
}

/** An nft invocation that failed: the exit code and what nft wrote to stderr. */
export class NftError extends Error {
  override readonly name = "NftError";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function run(argv: readonly string[], input: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new NftError(`cannot run ${argv.join(" ")}: ${e.message}`, null, "")));
    child.on("close", (code) => {
      const stderr = Buffer.concat(err).toString("utf8").trim();
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new NftError(`${argv.join(" ")} failed (exit ${code}): ${stderr.slice(0, 2000)}`, code, stderr));
    });
    child.stdin.on("error", () => undefined); // the close handler reports the failure
    child.stdin.end(input ?? "");
  });
}

/** Makes a runner for nft in the current or a named network namespace. */
export function createNftRunner(options: NftRunnerOptions = {}): NftRunner {
  const nft = options.nftPath ?? "nft";
  const prefix = options.netns === undefined ? [nft] : [options.ipPath ?? "ip", "netns", "exec", options.netns, nft];
  return {
    async apply(commands) {
      if (commands.length === 0) return;
      // nft reads `-f -` by opening /dev/stdin, which fails on the socket Node gives a child: use a file.
      const file = join(tmpdir(), `nft-batch-${process.pid}-${randomBytes(8).toString("hex")}.json`);
      await writeFile(file, JSON.stringify({ nftables: commands }), { mode: 0o600 });
      try {
        await run([...prefix, "-j", "-f", file], undefined);
      } finally {
        await rm(file, { force: true });
      }
    },
    async query(args) {
      const text = await run([...prefix, "-j", ...args], undefined);
      if (text.trim() === "") return { nftables: [] };
      return JSON.parse(text) as NftJsonOutput;
    },
    text(args) {
      return run([...prefix, ...args], undefined);
    },
    async script(text) {
      const file = join(tmpdir(), `nft-script-${process.pid}-${randomBytes(8).toString("hex")}.nft`);
      await writeFile(file, text + "\n", { mode: 0o600 });
      try {
        await run([...prefix, "-f", file], undefined);
      } finally {
        await rm(file, { force: true });
      }
    },
  };
}
