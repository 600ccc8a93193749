#!/usr/bin/env node
import { runOffloadctl } from "./ctl-program";

// The `offloadctl` command (see `runOffloadctl`). SIGINT/SIGTERM cancel the call in flight (exit 130),
// except that `watch` ends cleanly (exit 0) and `closed` finishes the collection under way first.
const stop = new AbortController();
const onSignal = (): void => stop.abort();
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
runOffloadctl(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  signal: stop.signal,
}).then(
  (code) => {
    process.exitCode = code;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  },
  (err: unknown) => {
    process.stderr.write(`offloadctl: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
