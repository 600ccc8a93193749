// The fast decoder of openoffload.v1 sessionRequest against ts-proto's, on
// messages clients send, every field in its range, and bytes broken every way
// (cut anywhere, bytes flipped, unknown fields, long varints, groups): the same
// values, or the same error; also decoded in place within a larger buffer.
import { describe, expect, it } from "@jest/globals";
import { openoffloadV1 } from "@sessionoffload/offload-api";
import { decodeSessionRequest, decodeSessionRequestAt } from "../src/openoffload-request-decoder";

const { sessionRequest } = openoffloadV1;

// A small seeded generator (mulberry32): the same cases on every run.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(decode: () => openoffloadV1.sessionRequest): { value?: unknown; error?: string } {
  try {
    return { value: decode() };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

// Bytes around a message that would change it if the ranged decode read before its start or past its end.
const BEFORE = Buffer.from([0x08, 0x81]);
const AFTER = Buffer.from([0x10, 0x07, 0x62, 0x7f]);

function expectSame(bytes: Uint8Array): void {
  const expected = outcome(() => sessionRequest.decode(bytes));
  expect(outcome(() => decodeSessionRequest(bytes))).toEqual(expected);
  // The same message in the middle of a larger buffer, decoded in place.
  const framed = Buffer.concat([BEFORE, bytes, AFTER]);
  const end = BEFORE.length + bytes.length;
  expect(outcome(() => decodeSessionRequestAt(framed, BEFORE.length, end))).toEqual(expected);
}

function randomRequest(next: () => number): openoffloadV1.sessionRequest {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  const u32 = (): number =>
    pick([0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 32 - 1, Math.floor(next() * 2 ** 32)]);
  const i32 = (): number => pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), Math.floor(next() * 2 ** 32) | 0]);
  const bytes = (): Buffer => Buffer.from(Array.from({ length: pick([0, 4, 16, 3]) }, () => Math.floor(next() * 256)));
  return sessionRequest.fromPartial({
    sessionId: pick([
      0n,
      1n,
      127n,
      128n,
      2n ** 48n - 1n,
      2n ** 49n,
      2n ** 63n + 5n,
      2n ** 64n - 1n,
      BigInt(Math.floor(next() * 2 ** 40)),
    ]),
    inLif: i32(),
    outLif: i32(),
    // Enum fields take numbers the enum does not name, as on the wire.
    ipVersion: pick([0, 1, 2, -3]) as openoffloadV1.IP_VERSION,
    sourceIp: u32(),
    sourceIpV6: bytes(),
    sourcePort: u32(),
    destinationIp: u32(),
    destinationIpV6: bytes(),
    destinationPort: u32(),
    protocolId: pick([0, 6, 17, 200, -1]) as openoffloadV1.PROTOCOL_ID,
    action:
      next() < 0.2
        ? undefined
        : {
            actionType: pick([0, 1, 2, 3, -7]) as openoffloadV1.ACTION_TYPE,
            actionNextHop: u32(),
            actionNextHopV6: bytes(),
          },
    cacheTimeout: u32(),
  });
}

describe("decodeSessionRequest", () => {
  it("decodes what clients send as ts-proto does, taking its fast path", () => {
    const bytes = sessionRequest
      .encode(
        sessionRequest.fromPartial({
          sessionId: 42n,
          inLif: 1,
          outLif: 2,
          ipVersion: openoffloadV1.IP_VERSION._IPV4,
          sourceIp: 0x0100000a,
          sourcePort: 1024,
          destinationIp: 0x010200c0,
          destinationPort: 443,
          protocolId: openoffloadV1.PROTOCOL_ID._TCP,
          action: { actionType: openoffloadV1.ACTION_TYPE._FORWARD },
          cacheTimeout: 30,
        }),
      )
      .finish();
    const fast = decodeSessionRequest(bytes);
    expect(fast).toEqual(sessionRequest.decode(bytes));
    // The fast path shares one empty Buffer for absent bytes fields; ts-proto makes new ones.
    expect(fast.sourceIpV6).toBe(decodeSessionRequest(bytes).destinationIpV6);
  });

  it("gives the same values for 2,000 random requests, every field in its range", () => {
    const next = random(13);
    for (let i = 0; i < 2000; i++) expectSame(sessionRequest.encode(randomRequest(next)).finish());
  });

  it("gives the same values or the same error for requests cut anywhere or with bytes changed", () => {
    const next = random(7);
    for (let i = 0; i < 120; i++) {
      const whole = sessionRequest.encode(randomRequest(next)).finish();
      for (let cut = 0; cut < whole.length; cut++) expectSame(whole.subarray(0, cut));
      for (let k = 0; k < 10; k++) {
        const changed = Uint8Array.from(whole);
        changed[Math.floor(next() * changed.length)] = Math.floor(next() * 256);
        expectSame(changed);
      }
    }
  });

  it("gives the same values for unknown fields, wrong wire types, long varints, tag 0 and groups", () => {
    const base = Buffer.from(sessionRequest.encode(randomRequest(random(3))).finish());
    const cases = [
      [0x70, 0x05], // field 14, varint: unknown
      [0x0a, 0x01, 0x00], // field 1 as bytes: wrong wire type
      [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // inLif -1, 10 bytes
      [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // sessionId 2^63
      [0x88, 0x00, 0x07], // tag 8 in two bytes, sessionId 7
      [0x00, 0x05], // tag 0
      [0x0b, 0x0c], // a group of field 1
      [0x0c], // an end-group tag alone
      [0x62, 0x02, 0x78, 0x01], // action with an unknown field 15
      [0x62, 0x05, 0x08, 0x01], // action longer than the message
      [0x32, 0x7f, 0x01], // sourceIpV6 longer than the message
      [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // an 11-byte varint
    ];
    for (const extra of cases) {
      expectSame(Buffer.concat([base, Buffer.from(extra)]));
      expectSame(Buffer.concat([Buffer.from(extra), base]));
    }
  });
});
