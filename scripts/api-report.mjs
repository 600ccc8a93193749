// The API reports of every package entry point (packages/<p>/api-extractor*.json,
// one per entry of its exports map) with API Extractor, on the built type
// declarations (`npm run build` first).
//   node scripts/api-report.mjs --update   writes packages/<p>/api/<entry>.api.md (npm run api:update)
//   node scripts/api-report.mjs --check    fails when a report differs from the committed one (npm run api:check)
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const repo = resolve(new URL(".", import.meta.url).pathname, "..");
const mode = process.argv[2];
if (mode !== "--update" && mode !== "--check") {
  console.error("usage: node scripts/api-report.mjs --update|--check");
  process.exit(2);
}
const update = mode === "--update";

const workspaces = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).workspaces;
const configs = workspaces.flatMap((dir) =>
  readdirSync(join(repo, dir))
    .filter((f) => /^api-extractor(\.[a-z-]+)?\.json$/.test(f))
    .map((f) => join(repo, dir, f)),
);

const failed = [];
for (const file of configs) {
  const config = ExtractorConfig.loadFileAndPrepare(file);
  if (!existsSync(config.mainEntryPointFilePath)) {
    console.error(`${config.mainEntryPointFilePath} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
  if (update)
    for (const r of config.reportConfigs)
      mkdirSync(dirname(join(config.reportFolder, r.fileName)), { recursive: true });
  const result = Extractor.invoke(config, {
    localBuild: update,
    // The project's own TypeScript (pinned), not the one API Extractor bundles.
    typescriptCompilerFolder: join(repo, "node_modules", "typescript"),
    showVerboseMessages: false,
    messageCallback: (message) => {
      // Its own notes about the report go to our summary below instead.
      if (["console-preamble", "console-api-report-copied", "console-api-report-created"].includes(message.messageId))
        message.handled = true;
    },
  });
  const report = config.reportConfigs[0]?.fileName ?? "";
  const label = `${config.packageJson?.name ?? file}: api/${report}`;
  if (!result.succeeded || (!update && result.apiReportChanged)) {
    failed.push(label);
    console.error(`${label}: ${result.apiReportChanged ? "differs from the committed report" : "failed"}`);
  } else if (update && result.apiReportChanged) console.log(`${label}: updated`);
}
if (failed.length) {
  console.error(
    `\n${failed.length} API report(s) out of date. If the change to the public surface is meant, run \`npm run api:update\` and commit the reports.`,
  );
  process.exit(1);
}
console.log(`${configs.length} API reports ${update ? "written" : "match the public surfaces"}.`);
