// `npm publish --dry-run` for every workspace package (one npm run for all), and
// checks of what each would publish: the metadata a registry user relies on
// (license, repository, engines, public access, types conditions in `exports`,
// sibling ranges, no types-only runtime dependency), a tarball of dist/ plus
// README.md, CHANGELOG.md and LICENSE (no sources, tests or source maps), every
// entry point (main, types, exports, bin) inside it, and no npm warning beyond
// the one about not being logged in, and every package its shipped JavaScript
// and declarations import declared as a dependency, and sibling dependencies
// that point one way. Needs `npm run build` first.
// Usage: node scripts/publish-dry-run.mjs   (npm run publish:dry-run)
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const root = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const problems = [];
const problem = (name, text) => problems.push(`${name}: ${text}`);

const manifests = root.workspaces.map((dir) => ({
  dir,
  pkg: JSON.parse(readFileSync(join(repo, dir, "package.json"), "utf8")),
}));
const siblings = new Map(manifests.map(({ pkg }) => [pkg.name, pkg.version]));
for (const { dir } of manifests) {
  if (!existsSync(join(repo, dir, "dist"))) {
    console.error(`${dir}/dist is missing: run \`npm run build\` first`);
    process.exit(1);
  }
}

const run = spawnSync("npm", ["publish", "--dry-run", "--workspaces", "--json"], {
  cwd: repo,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
if (run.status !== 0) {
  console.error(`npm publish --dry-run failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  process.exit(1);
}
// The one warning every dry run gives without an npm login; any other (an auto-corrected
// package.json, a dropped bin, an unknown field) is a problem.
for (const line of run.stderr.split("\n")) {
  if (!/^npm (warn|error|ERR)/i.test(line)) continue;
  if (/requires you to be logged in/.test(line)) continue;
  problem("npm", line);
}
const stdout = run.stdout;
const results = JSON.parse(stdout);

/** Every file path an `exports` entry names (conditions and subpaths, nested). */
function exportTargets(value) {
  if (typeof value === "string") return [value];
  if (value && typeof value === "object") return Object.values(value).flatMap(exportTargets);
  return [];
}
const strip = (p) => p.replace(/^\.\//, "");

for (const { dir, pkg } of manifests) {
  const name = pkg.name;
  const result = results[name];
  if (!result) {
    problem(name, "missing from npm publish --dry-run's output");
    continue;
  }
  if (pkg.private) problem(name, "is private");
  if (pkg.version !== "0.1.0" && !/^\d+\.\d+\.\d+/.test(pkg.version)) problem(name, `version ${pkg.version}`);
  if (!pkg.description) problem(name, "no description");
  if (pkg.license !== "Apache-2.0") problem(name, `license ${pkg.license}`);
  if (pkg.repository?.type !== "git" || !pkg.repository?.url || pkg.repository?.directory !== dir)
    problem(name, `repository must be {type: git, url, directory: ${dir}}`);
  if (pkg.repository?.url !== root.repository?.url) problem(name, "repository url differs from the root's");
  if (pkg.engines?.node !== root.engines.node) problem(name, `engines.node must be ${root.engines.node}`);
  if (pkg.publishConfig?.access !== "public") problem(name, "publishConfig.access must be public");
  for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
    if (dep.startsWith("@types/")) problem(name, `types-only runtime dependency ${dep}`);
    if (siblings.has(dep) && range !== `^${siblings.get(dep)}`)
      problem(name, `sibling ${dep} must be ^${siblings.get(dep)}`);
  }
  for (const [sub, entry] of Object.entries(pkg.exports ?? {})) {
    if (sub === "./package.json") continue;
    if (typeof entry !== "object" || Object.keys(entry)[0] !== "types")
      problem(name, `exports["${sub}"] must start with a "types" condition`);
  }

  const files = new Set(result.files.map((f) => f.path));
  for (const required of ["package.json", "README.md", "CHANGELOG.md", "LICENSE"])
    if (!files.has(required)) problem(name, `${required} is not in the tarball`);
  // The commands' own files (outside dist/, so that npm links them before a build: test/bin-links.test.ts).
  const commands = new Set(Object.values(pkg.bin ?? {}).map((f) => f.replace(/^\.\//, "")));
  for (const f of files) {
    if (["package.json", "README.md", "CHANGELOG.md", "LICENSE"].includes(f) || commands.has(f)) continue;
    if (!f.startsWith("dist/")) problem(name, `ships ${f} (only dist/, the commands and the documents)`);
    if (f.endsWith(".map")) problem(name, `ships a source map ${f}`);
    if (f.endsWith(".ts") && !f.endsWith(".d.ts")) problem(name, `ships a source ${f}`);
    if (/(^|\/)(test|__tests__)\//.test(f)) problem(name, `ships a test ${f}`);
  }
  // What the shipped files import must come with the package: a dependency (or a peer).
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const undeclared = new Set();
  for (const f of files) {
    if (!f.endsWith(".js") && !f.endsWith(".d.ts")) continue;
    const text = readFileSync(join(repo, dir, f), "utf8");
    for (const m of text.matchAll(/require\("([^"]+)"\)|from "([^"]+)"|import\("([^"]+)"\)/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith(".") || spec.startsWith("node:")) continue;
      const dep = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (!builtinModules.includes(dep) && !declared.has(dep)) undeclared.add(`${dep} (${f})`);
    }
  }
  for (const dep of undeclared) problem(name, `imports ${dep} without declaring it a dependency`);

  const entries = [pkg.main, pkg.types, ...exportTargets(pkg.exports), ...Object.values(pkg.bin ?? {})];
  for (const entry of entries.filter(Boolean).map(strip))
    if (!files.has(entry)) problem(name, `entry point ${entry} is not in the tarball`);
  for (const bin of Object.values(pkg.bin ?? {}))
    if (bin.startsWith("./")) problem(name, `bin ${bin}: npm 11 drops bin paths that start with ./`);

  console.log(
    `${name.padEnd(36)} ${String(result.entryCount).padStart(4)} files  packed ${(result.size / 1024).toFixed(1).padStart(6)} kB  unpacked ${(result.unpackedSize / 1024).toFixed(1).padStart(6)} kB`,
  );
}

// Sibling dependencies point one way (no cycle), and the client's package depends on no sibling.
const siblingDeps = new Map(
  manifests.map(({ pkg }) => [pkg.name, Object.keys(pkg.dependencies ?? {}).filter((d) => siblings.has(d))]),
);
if (siblingDeps.get("@sessionoffload/offload-api")?.length)
  problem("@sessionoffload/offload-api", "depends on a sibling package (it must stand alone for client-only apps)");
const visiting = new Set();
const done = new Set();
function visit(name, path) {
  if (done.has(name)) return;
  if (visiting.has(name)) return problem(name, `dependency cycle: ${[...path, name].join(" -> ")}`);
  visiting.add(name);
  for (const dep of siblingDeps.get(name) ?? []) visit(dep, [...path, name]);
  visiting.delete(name);
  done.add(name);
}
for (const name of siblingDeps.keys()) visit(name, []);

if (problems.length) {
  console.error(`\n${problems.length} problem(s):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`npm publish --dry-run passes for all ${manifests.length} packages.`);
