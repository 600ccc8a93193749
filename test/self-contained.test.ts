/**
 * The repository stands on its own: no tracked file refers to the reference
 * folder that sat beside it while it was written (the folder named by SHARED
 * below, its bench-peers, API.md and the other notes), and every relative link of its
 * Markdown files points at a file inside the repository that exists.
 */
import { describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const repo = resolve(__dirname, "..");
const isGitCheckout = existsSync(join(repo, ".git"));
const describeInGit = isGitCheckout ? describe : describe.skip;
if (!isGitCheckout) console.log("skipped: self-contained checks need a git checkout (git ls-files)");

const SELF = "test/self-contained.test.ts"; // names the patterns, so it is the one file not searched
const SHARED = "shared";
const OUTSIDE_REFERENCE = new RegExp(
  [
    `\\.\\./${SHARED}\\b`,
    `/work/${SHARED}\\b`,
    `\\b${SHARED}/(bench-peers|API\\.md|OPENOFFLOAD\\.md|ARCHITECTURE\\.md|SEED\\.md|STYLE\\.md)`,
  ].join("|"),
);

function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z"], { cwd: repo, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(repo, f)));
}

function isText(buffer: Buffer): boolean {
  return !buffer.subarray(0, 8000).includes(0);
}

describeInGit("the repository stands on its own", () => {
  it("no tracked file refers to the reference folder beside it", () => {
    const offenders: string[] = [];
    for (const file of trackedFiles().filter((f) => f !== SELF)) {
      const content = readFileSync(join(repo, file));
      if (!isText(content)) continue;
      content
        .toString("utf8")
        .split("\n")
        .forEach((line, i) => {
          if (OUTSIDE_REFERENCE.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it("every relative Markdown link points at a file inside the repository", () => {
    const broken: string[] = [];
    for (const file of trackedFiles().filter((f) => f.endsWith(".md"))) {
      const text = readFileSync(join(repo, file), "utf8");
      for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1]!;
        if (/^([a-z][a-z0-9+.-]*:|#)/i.test(target)) continue; // a URL, or an anchor in the same file
        const path = resolve(dirname(join(repo, file)), decodeURIComponent(target.split("#")[0]!));
        const inside = !relative(repo, path).startsWith("..");
        if (!inside || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
