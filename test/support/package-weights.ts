/**
 * What a package weighs in a project that installed it: the modules a script
 * loads (CommonJS, from Node's require cache) and the bytes on disk of a
 * package with everything it depends on, resolved as Node resolves them.
 * Used by test/pack.test.ts on its one install of the packed tarballs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * A module that only servers use: our transport, servers and switches beyond
 * the memory one, gRPC reflection and health, proto-loader, protobufjs, HPACK,
 * and SQLite. A client-only app must load none of them.
 */
export const SERVER_SIDE_MODULE =
  /node_modules\/(@sessionoffload\/(server-transport|session-server|stats-server|reference-server|switch-sqlite|switch-kernel)|@grpc\/reflection|@grpc\/proto-loader|grpc-health-check|protobufjs|hpack\.js|better-sqlite3)\//;

/**
 * Runs `source` as `<name>.js` in `project` with plain Node and answers the
 * files of every CommonJS module it loaded, its own file left out.
 */
export function loadedModules(project: string, name: string, source: string): string[] {
  const file = join(project, `${name}.js`);
  writeFileSync(
    file,
    `${source}\nprocess.stdout.write("\\n" + JSON.stringify(Object.keys(require.cache).filter((f) => f !== __filename)));\n`,
  );
  const run = spawnSync(process.execPath, [file], { cwd: project, encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(`${name}.js failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as string[];
}

/** The package a module file belongs to (`@scope/name` or `name`), by its last node_modules segment. */
export function packageOf(file: string): string {
  const parts = file.split("/node_modules/");
  const tail = parts[parts.length - 1]!.split("/");
  return tail[0]!.startsWith("@") ? `${tail[0]}/${tail[1]}` : tail[0]!;
}

/** Bytes of the files under `dir` (their lengths, not disk blocks), its own node_modules left out. */
function directoryBytes(dir: string, top = true): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (top && entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path, false);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/** The directory Node would load `name` from when required by the package in `fromDir`. */
function resolvePackageDir(fromDir: string, name: string, project: string): string | undefined {
  for (let dir = fromDir; dir.startsWith(project); dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === project) break;
  }
  return undefined;
}

/** A package's installed weight: its own files, and with every package it depends on (each counted once). */
export interface InstalledSize {
  readonly name: string;
  /** Bytes of the package's own files. */
  readonly ownBytes: number;
  /** Bytes of the package and of its whole dependency tree. */
  readonly totalBytes: number;
  /** Packages in that tree, itself included. */
  readonly packageCount: number;
  /** Names of every package in the tree. */
  readonly packages: ReadonlySet<string>;
}

/**
 * The installed size of `name` in `project`: its files plus those of the
 * packages it depends on (dependencies, installed optional and peer ones),
 * as installing it alone would bring them, given the same versions.
 */
export function installedSize(project: string, name: string): InstalledSize {
  const root = resolvePackageDir(project, name, project);
  if (!root) throw new Error(`${name} is not installed in ${project}`);
  const seen = new Map<string, string>(); // directory -> package name
  const queue = [root];
  while (queue.length) {
    const dir = queue.pop()!;
    if (seen.has(dir)) continue;
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    seen.set(dir, manifest.name);
    const deps = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    for (const dep of deps) {
      const found = resolvePackageDir(dir, dep, project);
      if (found) queue.push(found);
    }
  }
  let totalBytes = 0;
  for (const dir of seen.keys()) totalBytes += directoryBytes(dir);
  return {
    name,
    ownBytes: directoryBytes(root),
    totalBytes,
    packageCount: seen.size,
    packages: new Set(seen.values()),
  };
}
