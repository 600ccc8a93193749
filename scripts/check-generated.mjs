// Fails when generated/ differs from what `buf generate` makes from proto/ now:
// generated code is only ever changed by regenerating.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = mkdtempSync(join(tmpdir(), "buf-gen-"));
try {
  execFileSync("buf", ["generate", "-o", out], { stdio: "inherit" });
  try {
    execFileSync("diff", ["-ru", join(out, "generated"), "generated"], { stdio: "inherit" });
  } catch {
    console.error("generated/ is out of date or was edited by hand: run `npm run generate` and commit.");
    process.exit(1);
  }
  console.log("generated/ matches proto/.");
} finally {
  rmSync(out, { recursive: true, force: true });
}
