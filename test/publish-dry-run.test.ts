/**
 * `npm publish --dry-run` passes for every package, with the metadata, files
 * and entry points scripts/publish-dry-run.mjs checks (no source maps, no
 * sources, README, CHANGELOG and LICENSE shipped, no npm warning).
 * Needs `npm run build` first (`npm test` builds before Jest runs).
 */
import { describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const repo = resolve(__dirname, "..");

describe("npm publish --dry-run", () => {
  it("passes for every workspace package", () => {
    const run = spawnSync(process.execPath, [join(repo, "scripts", "publish-dry-run.mjs")], {
      cwd: repo,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
    expect(run.stdout).toMatch(/passes for all 8 packages/);
  }, 150_000);
});
