import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The version of the reference server's package (its package.json, beside `src/` and `dist/`). */
export function packageVersion(): string {
  const text = readFileSync(join(__dirname, "..", "package.json"), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}
