/**
 * The second generation served by the reference server as `npm start` runs
 * it (TLS with the development CA, the memory switch; here on free ports,
 * without the traffic model so that only idle timeouts end sessions),
 * driven by a client built from the published OpenOffload schema in another
 * language: Python stubs generated at run time by grpc_tools, over gRPC's C
 * core (Debian's python3-grpcio and python3-grpc-tools). It adds batches,
 * gets, deletes, pages and collects sessions, and checks each batch's
 * per-session answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile, execFileSync, spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { GRPC_CORE_PYTHON } from "../../../test/support/grpc-core";

const repo = resolve(__dirname, "../../..");
const CLI = join(repo, "packages/reference-server/dist/cli.js");
const DRIVER = join(__dirname, "fixtures", "openoffload_client.py");

function missing(): string | undefined {
  try {
    execFileSync(GRPC_CORE_PYTHON, ["-c", "import grpc, grpc_tools.protoc"], { stdio: "pipe" });
    return undefined;
  } catch {
    return `${GRPC_CORE_PYTHON} lacks grpc or grpc_tools (apt-get install python3-grpcio python3-grpc-tools; .ci/run does)`;
  }
}

const reason = missing();
if (reason !== undefined) console.warn(`openoffload interop skipped: ${reason}`);
const describeWithTools = reason === undefined ? describe : describe.skip;

interface Seen {
  first: { requestStatus: number; errorStatus: number; startTime: number; errors: [number, number][] };
  second: { requestStatus: number; errorStatus: number; errors: [number, number][] };
  get: { sessionId: number; state: number; requestStatus: number };
  getMissing: string;
  delete: { sessionId: number; state: number; ended: boolean };
  deleteAgain: string;
  pagedIds: number[];
  pages: number;
  closed: [number, number, number][];
  afterIds: number[];
}

// Both transports: the native one serves addSession (client streaming) itself, grpc-js serves every call.
describeWithTools.each(["native", "grpc-js"])(
  "openoffload.v1 on the reference server (%s transport), driven by gRPC's C core with stubs from the schema",
  (transport) => {
    let workdir = "";
    let server: ChildProcessByStdio<null, Readable, Readable> | undefined;
    let port = 0;
    let ca = "";

    beforeAll(async () => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
      workdir = mkdtempSync(join(tmpdir(), "openoffload-interop-"));
      const env = { ...process.env };
      delete env.OFFLOAD_TLS_DIR;
      const child = spawn(
        process.execPath,
        [CLI, "--sessions-port", "0", "--stats-port", "0", "--traffic", "off", "--transport", transport],
        {
          cwd: workdir,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      server = child;
      let out = "";
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      await new Promise<void>((ready, fail) => {
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.split("\n").includes("ready")) ready();
        });
        child.on("close", (code) => fail(new Error(`offload-server exited ${code} before ready: ${err}`)));
      });
      port = Number(/^listening service=sessions address=\S+ port=(\d+) tls=on$/m.exec(out)?.[1]);
      ca = /^trust ca=(.+)$/m.exec(out)?.[1] ?? "";
    }, 60_000);

    afterAll(() => {
      server?.kill("SIGKILL");
      if (workdir !== "") rmSync(workdir, { recursive: true, force: true });
    });

    it("adds, gets, deletes, pages and collects sessions, with per-session batch answers", async () => {
      const { stdout } = await promisify(execFile)(
        GRPC_CORE_PYTHON,
        [DRIVER, join(repo, "proto"), `localhost:${port}`, ca],
        { timeout: 90_000 },
      );
      const seen = JSON.parse(stdout) as Seen;
      expect(seen.first).toMatchObject({ requestStatus: 0, errorStatus: 0, errors: [] });
      expect(seen.first.startTime).toBeGreaterThan(1_600_000_000);
      // [100 accepted, 5 id taken (6), 0 malformed (3), 101 the live 7-tuple of 6 (6), 102 port 0 (3)]
      expect(seen.second).toMatchObject({
        requestStatus: 1, // _SESSION_REJECTED: malformed sessions among the failures
        errorStatus: 0b11110,
        errors: [
          [5, 6],
          [0, 3],
          [101, 6],
          [102, 3],
        ],
      });
      expect(seen.get).toEqual({ sessionId: 64, state: 0, requestStatus: 0 });
      expect(seen.getMissing).toBe("NOT_FOUND");
      expect(seen.delete).toEqual({ sessionId: 64, state: 1, ended: true });
      expect(seen.deleteAgain).toBe("NOT_FOUND");
      const expected = [...Array.from({ length: 63 }, (_, i) => i + 1), 100];
      expect(seen.pagedIds).toEqual(expected);
      expect(seen.pages).toBe(8); // 7 pages of at most 10, then the empty page that ends the walk
      expect(seen.closed.map(([id]) => id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const [, state, code] of seen.closed) expect([state, code]).toEqual([3, 3]); // _CLOSED, _TIMEOUT
      expect(seen.afterIds).toEqual(expected.slice(10));
    }, 120_000);
  },
);
