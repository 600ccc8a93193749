/**
 * The packages as npm users get them: `npm run pack` (without its build) into
 * a temporary folder, one install of all the tarballs into an empty project
 * (from the npm cache where it can, `allowScripts` set as a consumer sets it),
 * and every check on that one install: the weights each kind of user carries
 * (a client-only app, a switch vendor, the reference server with its
 * siblings, each package's installed size, printed), and use from plain
 * JavaScript and from TypeScript with nodenext resolution: a memory switch
 * behind both servers, and the typed client talking to them.
 * Needs `npm run build` first (`npm test` builds before Jest runs).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { installedSize, loadedModules, packageOf, SERVER_SIDE_MODULE } from "./support/package-weights";

const repo = resolve(__dirname, "..");
const packages = [
  "offload-api",
  "switch-backend",
  "switch-sqlite",
  "switch-kernel",
  "server-transport",
  "session-server",
  "stats-server",
  "reference-server",
];
const built = packages.every((p) => existsSync(join(repo, "packages", p, "dist")));

const consumerJs = `
const { createOffloadClient } = require("@sessionoffload/offload-api");
const { createMemorySwitch } = require("@sessionoffload/switch-backend");
const { createSessionServer } = require("@sessionoffload/session-server");
const { createStatsServer } = require("@sessionoffload/stats-server");
const { createInsecureCredentials } = require("@sessionoffload/session-server");

async function main() {
  const backend = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
  const sessions = createSessionServer({ backend, credentials: createInsecureCredentials() });
  const stats = createStatsServer({ backend, credentials: createInsecureCredentials() });
  const sessionsPort = await sessions.listen("127.0.0.1:0");
  const statsPort = await stats.listen("127.0.0.1:0");
  const client = createOffloadClient({
    sessionsAddress: "127.0.0.1:" + sessionsPort,
    statsAddress: "127.0.0.1:" + statsPort,
    credentials: { insecure: true },
  });
  const added = await client.addSession({
    sourceIp: "2001:db8::1", sourcePort: 40000, destinationIp: "2001:db8::2", destinationPort: 443,
    protocol: "tcp", action: "mirror", nextHop: "2001:db8::9",
  });
  const got = await client.getSession(added.id);
  const listed = [];
  for await (const s of client.getAllSessions()) listed.push(String(s.id));
  client.close();
  await sessions.shutdown();
  await stats.shutdown();
  await backend.close();
  console.log(JSON.stringify({ kind: added.kind, id: String(added.id), found: got.kind, state: got.session && got.session.state, listed }));
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

const consumerTs = `
import { createOffloadClient, type Session } from "@sessionoffload/offload-api";
import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { describeSwitchBackendConformance } from "@sessionoffload/switch-backend/conformance";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";

const backend: SwitchBackend = createMemorySwitch({ capacity: 1 });
const client = createOffloadClient({ credentials: { insecure: true } });
const first: Promise<Session | undefined> = Promise.resolve(undefined);
export { backend, client, first, createSessionServer, createStatsServer, describeSwitchBackendConformance };
`;

/** What a consumer puts in its package.json for npm 11 (see the README's Installation). */
const consumerAllowScripts = {
  // Comes with @grpc/grpc-js (via @grpc/proto-loader); its postinstall only prints a notice.
  protobufjs: false,
  // switch-sqlite's native module: a consumer who opens an SQLite switch sets true (a compile
  // of about a minute without a prebuilt binary); this project never opens one.
  "better-sqlite3": false,
  // switch-kernel's FFI: its prebuilt binaries ship inside the package, the script is not needed.
  koffi: false,
};

describe("the packed packages, installed into an empty project", () => {
  let dir: string;
  let project: string;
  let installOutput: string;
  beforeAll(() => {
    if (!built) throw new Error("the packages are not built: run `npm run build` first (npm test builds before Jest)");
    dir = mkdtempSync(join(tmpdir(), "offload-pack-"));
    const tarballs = join(dir, "tarballs");
    execFileSync(process.execPath, [join(repo, "scripts", "pack.mjs"), "--no-build", tarballs], {
      cwd: repo,
      stdio: "pipe",
    });
    const files = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"));
    expect(files).toHaveLength(packages.length);
    project = join(dir, "consumer");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, allowScripts: consumerAllowScripts }, null, 2),
    );
    const install = spawnSync(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", ...files.map((f) => join(tarballs, f))],
      { cwd: project, encoding: "utf8", timeout: 240_000 },
    );
    installOutput = `${install.stdout}\n${install.stderr}`;
    if (install.status !== 0) throw new Error(`npm install failed (exit ${install.status}):\n${installOutput}`);
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ships built JavaScript, type declarations and READMEs, and no sources or tests", () => {
    for (const p of packages) {
      const root = join(project, "node_modules", "@sessionoffload", p);
      const listing = execFileSync("find", [".", "-type", "f"], { cwd: root, encoding: "utf8" }).split("\n");
      expect(listing.some((f) => f.endsWith(".d.ts"))).toBe(true);
      expect(listing.some((f) => f.endsWith(".js"))).toBe(true);
      expect(listing.filter((f) => /\/(src|test)\/.*\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    }
  });

  it("installs without install-script warnings, allowScripts set as the README says", () => {
    expect(installOutput).not.toMatch(/install-scripts|allowScripts/);
  });

  it("a client-only app: offload-api loads at most 120 modules, none of them server-side", () => {
    const loaded = loadedModules(
      project,
      "client-app",
      `const { createOffloadClient } = require("@sessionoffload/offload-api");
const client = createOffloadClient({ credentials: { insecure: true } });
client.close();`,
    );
    const byPackage = new Map<string, number>();
    for (const f of loaded) byPackage.set(packageOf(f), (byPackage.get(packageOf(f)) ?? 0) + 1);
    console.log(`client-only app (require offload-api, create and close a client): ${loaded.length} modules
${[...byPackage].map(([p, n]) => `  ${p}: ${n}`).join("\n")}`);
    expect(loaded.filter((f) => SERVER_SIDE_MODULE.test(f))).toEqual([]);
    expect(loaded.length).toBeLessThanOrEqual(120);
  });

  it("switch-backend: no native build in its tree, loads alone with no server-side module", () => {
    const tree = installedSize(project, "@sessionoffload/switch-backend").packages;
    expect([...tree].filter((p) => /sqlite|^bindings$|^prebuild-install$|^node-gyp/.test(p))).toEqual([]);
    const loaded = loadedModules(
      project,
      "switch-vendor",
      `const { createMemorySwitch } = require("@sessionoffload/switch-backend");
const sw = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
sw.close();`,
    );
    console.log(`switch-backend alone (require, create and close a memory switch): ${loaded.length} modules`);
    expect(loaded.filter((f) => SERVER_SIDE_MODULE.test(f))).toEqual([]);
    expect(loaded.some((f) => f.includes("/node_modules/@sessionoffload/switch-backend/"))).toBe(true);
  });

  it("switch-backend/conformance: a vendor's conformance test runs under Jest from the installed package", () => {
    writeFileSync(
      join(project, "vendor.conformance.test.js"),
      `const { createMemorySwitchHarness, describeSwitchBackendConformance } = require("@sessionoffload/switch-backend/conformance");
describeSwitchBackendConformance("installed memory switch", createMemorySwitchHarness());
`,
    );
    const run = spawnSync(
      process.execPath,
      [
        join(repo, "node_modules", "jest", "bin", "jest.js"),
        "--rootDir",
        project,
        "--config",
        JSON.stringify({ transform: {}, testEnvironment: "node", testMatch: ["**/vendor.conformance.test.js"] }),
        "--ci",
        "--testNamePattern",
        "get|delete",
      ],
      { cwd: project, encoding: "utf8", timeout: 120_000 },
    );
    expect({ status: run.status, out: run.status === 0 ? "" : run.stderr }).toEqual({ status: 0, out: "" });
    expect(run.stderr).toMatch(/Tests: +(\d+ skipped, )?[1-9]\d* passed/);
  });

  it("the reference server installs with its siblings; each package's installed size", () => {
    const rows = packages.map((p) => installedSize(project, `@sessionoffload/${p}`));
    const kB = (n: number) => `${(n / 1024).toFixed(0)} kB`.padStart(9);
    console.log(
      `installed sizes (the package's own files; with its whole dependency tree, packages in it):
${rows.map((r) => `  ${r.name.padEnd(34)} ${kB(r.ownBytes)} ${kB(r.totalBytes)} ${String(r.packageCount).padStart(4)}`).join("\n")}`,
    );
    const server = rows.find((r) => r.name === "@sessionoffload/reference-server")!;
    for (const p of packages) expect(server.packages.has(`@sessionoffload/${p}`)).toBe(true);
    const client = rows.find((r) => r.name === "@sessionoffload/offload-api")!;
    expect([...client.packages].filter((p) => /^@sessionoffload\/(?!offload-api$)/.test(p))).toEqual([]);
  });

  it("runs from plain JavaScript: both servers over a memory switch, and the client", () => {
    writeFileSync(join(project, "main.js"), consumerJs);
    const out = execFileSync(process.execPath, ["main.js"], { cwd: project, encoding: "utf8", timeout: 60_000 });
    const result = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(result).toEqual({ kind: "accepted", id: "1", found: "found", state: "established", listed: ["1"] });
  });

  it("type-checks from TypeScript with nodenext resolution, through the exports maps", () => {
    writeFileSync(join(project, "main.ts"), consumerTs);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ["main.ts"],
      }),
    );
    execFileSync(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
      cwd: project,
      stdio: "pipe",
    });
  });

  it("installs the offload-server command", () => {
    const out = execFileSync(join(project, "node_modules", ".bin", "offload-server"), ["--help"], {
      encoding: "utf8",
    });
    expect(out).toMatch(/--sessions-port/);
  });
});
