/**
 * In-process cost of the second generation's batched add, below gRPC: decode
 * each sessionRequest from its wire bytes (ts-proto), validate it, add it to
 * the memory switch with its client id (createOpenOffloadHandlers' addSession
 * over a stand-in for the grpc-js stream), and encode the answer, in batches
 * of 64. The figure bounds what a transport that hands messages over cheaply
 * can reach on one core. Not part of `npm test`.
 *
 *   npx tsx bench/openoffload-handler.ts [sessions]
 */
import { EventEmitter } from "node:events";
import type { sendUnaryData, ServerReadableStream } from "@grpc/grpc-js";
import { openoffloadV1 } from "@sessionoffload/offload-api";
import { createOpenOffloadHandlers } from "@sessionoffload/session-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";

const count = Number(process.argv[2] ?? 1_000_000);
const BATCH = 64;

function inAddr(a: number, b: number, c: number, d: number): number {
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

function wire(id: number): Uint8Array {
  return openoffloadV1.sessionRequest
    .encode(
      openoffloadV1.sessionRequest.fromPartial({
        sessionId: BigInt(id),
        inLif: 1,
        outLif: 2,
        sourceIp: inAddr(10, (id >>> 16) & 255, (id >>> 8) & 255, id & 255),
        sourcePort: 1024 + ((id >>> 24) & 255),
        destinationIp: inAddr(192, 0, 2, 1),
        destinationPort: 443,
        protocolId: openoffloadV1.PROTOCOL_ID._TCP,
        action: { actionType: openoffloadV1.ACTION_TYPE._FORWARD },
      }),
    )
    .finish();
}

function run(label: string, firstId: number, n: number): void {
  const backend = createMemorySwitch({ capacity: n + 1, traffic: false, tickIntervalMs: 0 });
  const handlers = createOpenOffloadHandlers({ backend });
  const batches: Uint8Array[][] = [];
  for (let i = 0; i < n; i += BATCH) {
    batches.push(Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => wire(firstId + i + k)));
  }
  let answered = 0;
  let failures = 0;
  const start = process.hrtime.bigint();
  for (const batch of batches) {
    const call = new EventEmitter() as unknown as ServerReadableStream<
      openoffloadV1.sessionRequest,
      openoffloadV1.addSessionResponse
    >;
    const done: sendUnaryData<openoffloadV1.addSessionResponse> = (err, value) => {
      if (err || value === undefined || value === null) throw new Error(`addSession failed: ${err?.details}`);
      openoffloadV1.addSessionResponse.encode(value).finish();
      failures += value.responseError.length;
      answered += 1;
    };
    handlers.addSession(call, done);
    for (const bytes of batch) call.emit("data", openoffloadV1.sessionRequest.decode(bytes));
    call.emit("end");
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (answered !== batches.length || failures !== 0) throw new Error(`answered ${answered}, failures ${failures}`);
  console.log(
    `${label.padEnd(34)} ${((n / ms) * 1000).toFixed(0).padStart(10)} sessions/s  (${n} in ${ms.toFixed(0)} ms)`,
  );
  backend.close();
}

run("warm-up", 1, Math.min(count, 200_000));
run("client ids counting up", 1, count);
run("client ids from 2^40", 2 ** 40, count);
