/**
 * The workspace's commands are linked by `npm ci` on a fresh checkout: npm
 * links a package's `bin` into node_modules/.bin only if its file exists when
 * it installs, before any build. So every bin file is tracked source (a small
 * file that loads the built one), not a file of `dist/`, and `files` ships it.
 */
import { describe, expect, it } from "@jest/globals";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const repo = resolve(__dirname, "..");

interface Manifest {
  readonly name: string;
  readonly bin?: Record<string, string>;
  readonly files?: readonly string[];
}

const commands = readdirSync(join(repo, "packages")).flatMap((dir) => {
  const root = join(repo, "packages", dir);
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
  return Object.entries(manifest.bin ?? {}).map(([command, file]) => ({ command, file, root, manifest }));
});

describe("the workspace's commands", () => {
  it("include offload-server and offloadctl", () => {
    expect(commands.map((c) => c.command).sort()).toEqual(["offload-server", "offloadctl"]);
  });

  it.each(commands.map((c) => [c.command, c] as const))(
    "%s: its bin file is executable source outside dist/, shipped by `files`",
    (_, { file, root, manifest }) => {
      expect(file.startsWith("dist/")).toBe(false);
      expect(existsSync(join(root, file))).toBe(true);
      expect(statSync(join(root, file)).mode & 0o111).not.toBe(0);
      expect(readFileSync(join(root, file), "utf8").startsWith("#!/usr/bin/env ")).toBe(true);
      expect(manifest.files).toContain(file.split("/")[0]);
    },
  );
});
