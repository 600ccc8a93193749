/**
 * The packages as npm users get them: `npm pack` each workspace, install the
 * tarballs into an empty project (from the npm cache where it can), and use
 * them from plain JavaScript and from TypeScript with nodenext resolution:
 * a memory switch behind both servers, and the typed client talking to them.
 * Needs `npm run build` first (`npm test` builds before Jest runs).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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

describe("the packed packages, installed into an empty project", () => {
  let dir: string;
  beforeAll(() => {
    if (!built) throw new Error("the packages are not built: run `npm run build` first (npm test builds before Jest)");
    dir = mkdtempSync(join(tmpdir(), "offload-pack-"));
    const tarballs = join(dir, "tarballs");
    mkdirSync(tarballs);
    execFileSync("npm", ["pack", "--workspaces", "--pack-destination", tarballs, "--silent"], {
      cwd: repo,
      stdio: "pipe",
    });
    const files = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"));
    expect(files).toHaveLength(packages.length);
    const project = join(dir, "consumer");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, allowScripts: { "better-sqlite3": false } }, null, 2),
    );
    execFileSync(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--silent", ...files.map((f) => join(tarballs, f))],
      { cwd: project, stdio: "pipe", timeout: 240_000 },
    );
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ships built JavaScript, type declarations and READMEs, and no sources or tests", () => {
    for (const p of packages) {
      const root = join(dir, "consumer", "node_modules", "@sessionoffload", p);
      const listing = execFileSync("find", [".", "-type", "f"], { cwd: root, encoding: "utf8" }).split("\n");
      expect(listing.some((f) => f.endsWith(".d.ts"))).toBe(true);
      expect(listing.some((f) => f.endsWith(".js"))).toBe(true);
      expect(listing.filter((f) => /\/(src|test)\/.*\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    }
  });

  it("runs from plain JavaScript: both servers over a memory switch, and the client", () => {
    const project = join(dir, "consumer");
    writeFileSync(join(project, "main.js"), consumerJs);
    const out = execFileSync(process.execPath, ["main.js"], { cwd: project, encoding: "utf8", timeout: 60_000 });
    const result = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(result).toEqual({ kind: "accepted", id: "1", found: "found", state: "established", listed: ["1"] });
  });

  it("type-checks from TypeScript with nodenext resolution, through the exports maps", () => {
    const project = join(dir, "consumer");
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
    const out = execFileSync(join(dir, "consumer", "node_modules", ".bin", "offload-server"), ["--help"], {
      encoding: "utf8",
    });
    expect(out).toMatch(/--sessions-port/);
  });
});
