import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of `createNftRunner`. */
export interface NftRunnerOptions {
  /** Network namespace to run nft in (via `ip netns exec NAME nft ...`); default: the current one. */
  readonly netns?: string;
  /** Path or name of the nft binary; default `nft`. */
  readonly nftPath?: string;
  /** Path or name of the ip binary (iproute2), used with `netns`; default `ip`. */
  readonly ipPath?: string;
}

/** Runs the nft tool: for the static ruleset and new verdict chains, never per session. */
export interface NftRunner {
  /** Applies an nft script (text) as one atomic batch (`nft -f FILE`); rejects with nft's message if the kernel refused it. */
  script(text: string): Promise<void>;
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

function run(argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
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
  });
}

/** Makes a runner for nft in the current or a named network namespace. */
export function createNftRunner(options: NftRunnerOptions = {}): NftRunner {
  const nft = options.nftPath ?? "nft";
  const prefix = options.netns === undefined ? [nft] : [options.ipPath ?? "ip", "netns", "exec", options.netns, nft];
  return {
    async script(text) {
      // nft reads `-f -` by opening /dev/stdin, which fails on the socket Node gives a child: use a file.
      const file = join(tmpdir(), `nft-script-${process.pid}-${randomBytes(8).toString("hex")}.nft`);
      await writeFile(file, text + "\n", { mode: 0o600 });
      try {
        await run([...prefix, "-f", file]);
      } finally {
        await rm(file, { force: true });
      }
    },
  };
}
