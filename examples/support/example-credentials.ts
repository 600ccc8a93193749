import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClientCredentialsOptions } from "@sessionoffload/offload-api";

const REPOSITORY = resolve(__dirname, "../..");

/**
 * The development CAs a reference server of this repository may have made:
 * `$OFFLOAD_TLS_DIR`, the demo servers' (examples/basic/.offload/tls), and
 * `npm start`'s (./.offload/tls, and the repository's).
 */
export function devCaCandidates(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const dirs = [
    env.OFFLOAD_TLS_DIR,
    join(REPOSITORY, "examples", "basic", ".offload", "tls"),
    join(cwd, ".offload", "tls"),
    join(REPOSITORY, ".offload", "tls"),
  ].filter((d): d is string => d !== undefined && d !== "");
  return [...new Set(dirs.map((d) => join(resolve(cwd, d), "ca.crt")))];
}

/**
 * The examples' `--ca FILE` / `--insecure` flags as client credentials:
 * plaintext with `--insecure`; TLS trusting `--ca`; without `--ca`, every
 * development CA of this repository that exists (see `devCaCandidates`), so
 * that a client finds the servers of `npm start` and of the demo scripts
 * alike; with none there, the system's roots.
 */
export function exampleCredentials(flags: {
  readonly ca?: string;
  readonly insecure?: boolean;
}): ClientCredentialsOptions {
  if (flags.insecure) return { insecure: true };
  if (flags.ca !== undefined) return { caFile: flags.ca };
  const found = devCaCandidates().filter((path) => existsSync(path));
  if (found.length === 0) return {};
  return { ca: found.map((path) => readFileSync(path, "utf8")).join("\n") };
}
