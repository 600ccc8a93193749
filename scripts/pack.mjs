// `npm run pack [-- DIR] [-- --no-build]`: builds every package and packs each
// into a tarball in DIR (default dist-packages/), replacing older tarballs
// there. Install them together into a project of yours until the packages
// are on the registry: `npm install DIR/*.tgz` (see the README's Installation).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const repo = resolve(new URL(".", import.meta.url).pathname, "..");
const args = process.argv.slice(2);
const build = !args.includes("--no-build");
const unknown = args.filter((a) => a.startsWith("-") && a !== "--no-build");
const dirs = args.filter((a) => !a.startsWith("-"));
if (unknown.length || dirs.length > 1) {
  console.error("usage: npm run pack [-- DIR] [-- --no-build]");
  process.exit(2);
}
const out = resolve(dirs[0] ?? join(repo, "dist-packages"));

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: repo, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (r.status !== 0) {
    console.error(`${cmd} ${cmdArgs.join(" ")} failed (exit ${r.status})`);
    process.exit(1);
  }
  return r.stdout;
}

if (build) run("npm", ["run", "build", "--silent"]);
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (/^sessionoffload-.*\.tgz$/.test(f)) rmSync(join(out, f));
const packed = JSON.parse(run("npm", ["pack", "--workspaces", "--json", "--pack-destination", out]));
for (const p of packed) console.log(`${join(out, p.filename)}  (${(p.size / 1024).toFixed(1)} kB)`);
console.log(
  `\n${packed.length} packages packed. Install a package's tarball with those of its siblings (its README names them), or all: npm install ${out}/*.tgz`,
);
