// Legal but unusual clients of the native transport, within its default
// limits: tiny flow-control windows, the smallest MAX_FRAME_SIZE, more calls
// than MAX_CONCURRENT_STREAMS on one connection, and h2load (nghttp2's load
// generator, when installed).
import { afterEach, describe, expect, it } from "@jest/globals";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectH2 } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  F,
  grpcMessage,
  postUnary,
  RawClient,
  rawFrame,
  requestBlock,
  startEchoServer,
  T,
  UNARY_PATH,
} from "./native-transport-support";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): ReturnType<typeof startEchoServer> {
  const started = await startEchoServer();
  cleanups.push(() => started.server.forceShutdown());
  return started;
}

function run(file: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000 }, (err, stdout) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout });
    });
  });
}

const h2load = spawnSync("h2load", ["--version"]).status === 0;

describe("unusual but legal clients", () => {
  it("a client with an initial window of 16 bytes gets a 20,000-byte answer in 16-byte frames", async () => {
    const { port } = await start();
    const client = await RawClient.connect(port, { settings: [[4, 16]] });
    cleanups.push(() => client.close());
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("big:20000")),
    );
    const answer = await client.response(1);
    expect(answer.data.length).toBe(20_005);
    const sizes = client.frames.filter((f) => f.type === T.DATA && f.stream === 1).map((f) => f.payload.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16);
    expect(answer.blocks.at(-1)?.["grpc-status"]).toBe("0");
  });

  it("a client at the smallest MAX_FRAME_SIZE gets frames of at most 16,384 bytes", async () => {
    const { port } = await start();
    const client = await RawClient.connect(port, { settings: [[5, 16_384]] });
    cleanups.push(() => client.close());
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("big:100000")),
    );
    const answer = await client.response(1);
    expect(answer.data.length).toBe(100_005);
    expect(Math.max(...client.frames.map((f) => f.payload.length))).toBeLessThanOrEqual(16_384);
  });

  it("300 calls at once on one connection, three times MAX_CONCURRENT_STREAMS, all answered", async () => {
    const { port } = await start();
    const session = connectH2(`http://127.0.0.1:${port}`);
    session.on("error", () => undefined);
    cleanups.push(() => session.destroy());
    const call = async (i: number): Promise<string> => (await postUnary(session, `m${i}`)).data.subarray(5).toString();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => call(i)));
    expect(answers).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  });

  (h2load ? it : it.skip)(
    `h2load: 2,000 calls, 16 streams on each of 2 connections, all succeed${h2load ? "" : " (skipped: h2load not installed, Debian nghttp2-client)"}`,
    async () => {
      const { port } = await start();
      const dir = mkdtempSync(join(tmpdir(), "h2load-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const body = join(dir, "body");
      writeFileSync(body, grpcMessage("h2load"));
      const { code, stdout } = await run("h2load", [
        "-n",
        "2000",
        "-c",
        "2",
        "-m",
        "16",
        "-d",
        body,
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        `http://127.0.0.1:${port}${UNARY_PATH}`,
      ]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/2000 succeeded, 0 failed, 0 errored/);
    },
  );
});
