/**
 * The Prometheus project's own text-format parser (its Python client, Debian's
 * python3-prometheus-client), for tests that read `/metrics` as Prometheus
 * would; the `describe` that runs them only where it is installed (skipped
 * with a one-line reason elsewhere; `.ci/run` installs it).
 */
import { describe } from "@jest/globals";
import { execFileSync } from "node:child_process";

const PYTHON = "/usr/bin/python3";

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
def value(v):
    return repr(v) if math.isinf(v) or math.isnan(v) else v
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": value(s.value)} for s in f.samples]})
print(json.dumps(out))
`;

/** One sample line, as the parser read it. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The value; "inf", "-inf" or "nan" for those. */
  readonly value: number | string;
}

/** One metric family (the parser names a counter without its `_total`). */
export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly Sample[];
}

function parserMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ["-c", "import prometheus_client"], { stdio: "pipe" });
    return undefined;
  } catch {
    return `skipped: ${PYTHON} has no prometheus_client (apt-get install python3-prometheus-client; .ci/run does)`;
  }
}

const missing = parserMissing();
if (missing !== undefined) console.warn(missing);

/** `describe` where the parser is installed, `describe.skip` (with the reason printed) where not. */
export const describeWithPrometheusParser: typeof describe.skip = missing === undefined ? describe : describe.skip;

/** Parses Prometheus text (version 0.0.4); throws with the parser's message for text it refuses. */
export function parsePrometheusText(text: string): Family[] {
  try {
    return JSON.parse(execFileSync(PYTHON, ["-c", SCRIPT], { input: text, encoding: "utf8" })) as Family[];
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`the Prometheus parser refused the text: ${stderr.trim().split("\n").pop() ?? String(err)}`);
  }
}

/** Every sample named `name` whose labels include `labels`. */
export function samples(families: readonly Family[], name: string, labels: Record<string, string> = {}): Sample[] {
  return families.flatMap((f) =>
    f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)),
  );
}

/** The value of the one sample named `name` with exactly these labels (undefined when there is none). */
export function valueOf(
  families: readonly Family[],
  name: string,
  labels: Record<string, string> = {},
): number | string | undefined {
  const found = samples(families, name, labels).filter(
    (s) => Object.keys(s.labels).length === Object.keys(labels).length,
  );
  if (found.length > 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** The family names in the text, as they are written there (counters with their `_total`). */
export function familyNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
}
