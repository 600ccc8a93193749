// The one-request crash, against the command as operators run it:
// a getSession with `grpc-encoding: gzip`, the compressed flag and a body
// that is not gzip made Node exit with "Unhandled 'error' event ...
// Z_DATA_ERROR" (grpc-js 1.14.3), on both transports. Now it is answered
// INTERNAL, the process keeps serving, and it still stops cleanly.
import { afterEach, describe, expect, it } from "@jest/globals";
import { connect } from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { killAll, runCommand, whenReady, type RunningCommand } from "./offload-server-process";

const running: RunningCommand[] = [];
const dirs: string[] = [];
afterEach(() => {
  killAll(running);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// One call with a hand-made body; resolves with its grpc-status.
function rawGetSession(port: number, encoding: string, body: Buffer): Promise<number> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  return new Promise<number>((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": sessionsV1.SessionTableService.getSession.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-encoding": encoding,
    });
    let code: number | undefined;
    req.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) code = Number(headers["grpc-status"]);
    });
    req.on("trailers", (trailers) => (code = Number(trailers["grpc-status"])));
    req.on("error", reject);
    req.on("close", () => (code === undefined ? reject(new Error("no grpc-status")) : resolve(code)));
    req.resume();
    const framed = Buffer.alloc(5 + body.length);
    framed[0] = 1; // compressed
    framed.writeUInt32BE(body.length, 1);
    body.copy(framed, 5);
    req.end(framed);
  }).finally(() => session.close());
}

describe.each(["native", "grpc-js"])("offload-server --transport %s", (transport) => {
  it("answers a gzip request whose body is not gzip INTERNAL and keeps serving", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "offload-gzip-"));
    dirs.push(cwd);
    const command = runCommand(
      ["--insecure", "--host", "127.0.0.1", "--sessions-port", "0", "--stats-port", "0", "--transport", transport],
      { cwd },
    );
    running.push(command);
    const server = await whenReady(command);
    const port = server.ports.sessions as number;

    expect(await rawGetSession(port, "gzip", Buffer.from("this is not gzip"))).toBe(status.INTERNAL);
    expect(await rawGetSession(port, "deflate", Buffer.from([1, 2, 3, 4]))).toBe(status.INTERNAL);
    expect(command.child.exitCode).toBeNull();

    const client = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) =>
        client.getSession({ sessionId: 1n }, (err) => resolve(err ? err.code : status.OK)),
      );
      expect(code).toBe(status.OK);
    } finally {
      client.close();
    }
    command.child.kill("SIGTERM");
    expect(await command.exited).toBe(0);
    expect(command.stderr()).not.toMatch(/Unhandled 'error' event|Z_DATA_ERROR/);
  }, 60_000);
});
