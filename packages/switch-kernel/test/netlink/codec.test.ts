import { describe, expect, it } from "@jest/globals";
import {
  ConntrackBrief,
  decodeBrief,
  decodeEntry,
  eventTypeOf,
  reverseTuple,
  writeCreate,
  writeDelete,
  writeDump,
  writeGet,
} from "../../src/netlink/conntrack-codec";
import { MessageWriter } from "../../src/netlink/message-writer";
import { NetlinkError, errnoName } from "../../src/netlink/netlink-socket";
import type { ConntrackTuple } from "../../src/netlink/types";

/** Hex of the pieces, spaces and comments ignored. */
function hex(...parts: string[]): string {
  return parts.join("").replace(/\s+/g, "");
}

const udp4: ConntrackTuple = {
  family: 4,
  protocol: 17,
  src: Uint8Array.of(10, 0, 0, 1),
  dst: Uint8Array.of(10, 0, 1, 1),
  srcPort: 1000,
  dstPort: 80,
};

// CTA_TUPLE_x (nested) { CTA_TUPLE_IP (nested) { V4_SRC, V4_DST }, CTA_TUPLE_PROTO (nested) { NUM, SRC, DST } }
function tuple4(attr: string, src: string, dst: string, proto: string, sport: string, dport: string): string {
  return hex(
    `3400 ${attr}80`, // len 52, type | NLA_F_NESTED
    "1400 0180", // CTA_TUPLE_IP, len 20
    `0800 0100 ${src}`,
    `0800 0200 ${dst}`,
    "1c00 0280", // CTA_TUPLE_PROTO, len 28
    `0500 0100 ${proto}000000`, // u8 + 3 bytes padding
    `0600 0200 ${sport}0000`, // be16 + padding
    `0600 0300 ${dport}0000`,
  );
}

describe("netlink message writer", () => {
  it("writes header, nfgenmsg, padded attributes and nests with their lengths", () => {
    const w = new MessageWriter(8); // grows on demand
    const m = w.beginNfMessage(0x0102, 0x0005, 0x01020304, 2);
    w.u8(1, 0xaa);
    const n = w.beginNest(2);
    w.be16(3, 0x1234);
    w.be32(4, 0xdeadbeef);
    w.endNest(n);
    w.raw(5, Uint8Array.of(1, 2, 3, 4, 5));
    w.endMessage(m);
    expect(w.bytes.toString("hex")).toBe(
      hex(
        "3c000000 0201 0500 04030201 00000000", // nlmsghdr: len 60, type, flags, seq, pid (little-endian)
        "02 00 0000", // nfgenmsg: AF_INET, NFNETLINK_V0, res_id 0
        "0500 0100 aa000000",
        "1400 0280", // nest: 4 + 8 + 8
        "0600 0300 12340000",
        "0800 0400 deadbeef",
        "0900 0500 0102030405000000",
      ),
    );
    w.reset();
    expect(w.length).toBe(0);
  });
});

describe("ctnetlink encoding", () => {
  it("encodes a UDP create: tuples both ways, timeout, status with CONFIRMED, mark, ACK only when asked", () => {
    const w = new MessageWriter();
    writeCreate(w, 7, { orig: udp4, timeoutS: 60, mark: 0x01000002 }, "create", true);
    expect(w.bytes.toString("hex")).toBe(
      hex(
        "94000000 0001 0506 07000000 00000000", // len 148, CTNETLINK<<8|CT_NEW, REQUEST|ACK|CREATE|EXCL, seq 7
        "02 00 0000",
        tuple4("01", "0a000001", "0a000101", "11", "03e8", "0050"),
        tuple4("02", "0a000101", "0a000001", "11", "0050", "03e8"),
        "0800 0700 0000003c", // CTA_TIMEOUT 60
        "0800 0300 0000000e", // CTA_STATUS SEEN_REPLY|ASSURED|CONFIRMED
        "0800 0800 01000002", // CTA_MARK
      ),
    );
  });

  it("encodes TCP protoinfo (state, BE_LIBERAL flags both ways) and labels with a full mask; upsert drops EXCL", () => {
    const w = new MessageWriter();
    const labels = Buffer.alloc(16);
    labels[15] = 0x80;
    writeCreate(w, 1, { orig: { ...udp4, protocol: 6 }, timeoutS: 5, labels, status: 0 }, "upsert", false);
    const b = w.bytes;
    expect(b.readUInt16LE(6)).toBe(0x0401); // REQUEST|CREATE
    const tail = b.subarray(20 + 52 + 52).toString("hex");
    expect(tail).toBe(
      hex(
        "0800 0700 00000005",
        "0800 0300 00000008", // only CONFIRMED
        "1400 1600 00000000000000000000000000000080", // CTA_LABELS
        "1400 1700 ffffffffffffffffffffffffffffffff", // CTA_LABELS_MASK
        "2000 0480", // CTA_PROTOINFO
        "1c00 0180", // CTA_PROTOINFO_TCP
        "0500 0100 03000000", // state ESTABLISHED
        "0600 0400 08080000", // FLAGS_ORIGINAL {flags, mask}
        "0600 0500 08080000", // FLAGS_REPLY
      ),
    );
    expect(b.readUInt32LE(0)).toBe(b.length);
  });

  it("encodes get, delete with id, and a mark-filtered dump; IPv6 addresses use the V6 attributes", () => {
    const w = new MessageWriter();
    const v6: ConntrackTuple = {
      family: 6,
      protocol: 17,
      src: Buffer.from("20010db8000000000000000000000001", "hex"),
      dst: Buffer.from("20010db8000000000000000000000002", "hex"),
      srcPort: 1,
      dstPort: 2,
    };
    writeGet(w, 2, v6, true);
    const get = Buffer.from(w.bytes);
    expect(get.readUInt16LE(4)).toBe(0x0101);
    expect(get.readUInt16LE(6)).toBe(0x0005);
    expect(get[16]).toBe(10); // AF_INET6
    expect(get.subarray(20, 20 + 16).toString("hex")).toBe(hex("4c00 0180", "2c00 0180", "1400 0300 20010db8"));
    w.reset();
    writeDelete(w, 3, udp4, 0xabcdef01, false);
    const del = w.bytes;
    expect(del.readUInt16LE(4)).toBe(0x0102);
    expect(del.readUInt16LE(6)).toBe(0x0001);
    expect(del.subarray(20 + 52).toString("hex")).toBe(hex("0800 0c00 abcdef01"));
    w.reset();
    writeDump(w, 4, { mark: 0x100, mask: 0xff00 });
    expect(w.bytes.toString("hex")).toBe(
      hex("24000000 0101 0103 04000000 00000000", "00 00 0000", "0800 0800 00000100", "0800 1500 0000ff00"),
    );
  });

  it("refuses addresses of the wrong length for the family, before anything is sent", () => {
    const w = new MessageWriter();
    expect(() => writeGet(w, 1, { ...udp4, family: 6 }, true)).toThrow(RangeError);
    expect(() => writeGet(w, 1, { ...udp4, dst: new Uint8Array(16) }, true)).toThrow(RangeError);
  });

  it("an update sends only the fields given: no reply tuple, status or TCP state by default", () => {
    const w = new MessageWriter();
    writeCreate(w, 9, { orig: { ...udp4, protocol: 6 }, mark: 5 }, "update", true);
    expect(w.bytes.readUInt16LE(6)).toBe(0x0005); // REQUEST|ACK: neither CREATE nor EXCL
    expect(w.bytes.subarray(20 + 52).toString("hex")).toBe(hex("0800 0800 00000005"));
    w.reset();
    writeCreate(w, 9, { orig: { ...udp4, protocol: 6 }, timeoutS: 1, tcpState: 7 }, "update", true);
    expect(w.bytes.subarray(20 + 52).toString("hex")).toBe(
      hex(
        "0800 0700 00000001",
        "2000 0480",
        "1c00 0180",
        "0500 0100 07000000",
        "0600 0400 08080000",
        "0600 0500 08080000",
      ),
    );
  });

  it("reverses a tuple", () => {
    expect(reverseTuple(udp4)).toEqual({ ...udp4, src: udp4.dst, dst: udp4.src, srcPort: 80, dstPort: 1000 });
  });
});

describe("ctnetlink decoding", () => {
  // A DESTROY event as the kernel sends it: nested flags set, counters, an attribute we do not know (CTA_USE).
  const event = Buffer.from(
    hex(
      "e4000000 0201 0000 00000000 00000000", // len 228, CT_DELETE
      "02 00 0000",
      tuple4("01", "0a000001", "0a000101", "06", "03e8", "0050"),
      tuple4("02", "0a000101", "0a000001", "06", "0050", "03e8"),
      "0800 0300 0000000e", // status
      "0800 0800 00000102", // mark
      "0800 0b00 00000001", // CTA_USE (skipped)
      "1c00 0980", // CTA_COUNTERS_ORIG { PACKETS 3, BYTES 180 }
      "0c00 0100 0000000000000003",
      "0c00 0200 00000000000000b4",
      "1c00 0a80", // CTA_COUNTERS_REPLY { PACKETS 2, BYTES 120 }
      "0c00 0100 0000000000000002",
      "0c00 0200 0000000000000078",
      "1000 0480", // CTA_PROTOINFO { TCP { STATE 7 } }
      "0c00 0180",
      "0500 0100 07000000",
      "0800 0c00 12345678", // CTA_ID
    ),
    "hex",
  );

  it("decodes tuples, status, mark, id, counters and the TCP state", () => {
    expect(event.readUInt32LE(0)).toBe(event.length);
    const received = Buffer.from(event);
    const e = decodeEntry(received, 0, received.length);
    expect(e).toEqual({
      id: 0x12345678,
      orig: {
        family: 4,
        protocol: 6,
        src: Buffer.from([10, 0, 0, 1]),
        dst: Buffer.from([10, 0, 1, 1]),
        srcPort: 1000,
        dstPort: 80,
      },
      reply: {
        family: 4,
        protocol: 6,
        src: Buffer.from([10, 0, 1, 1]),
        dst: Buffer.from([10, 0, 0, 1]),
        srcPort: 80,
        dstPort: 1000,
      },
      status: 14,
      mark: 0x102,
      counters: { origPackets: 3n, origBytes: 180n, replyPackets: 2n, replyBytes: 120n },
      tcpState: 7,
    });
    // copies, not views of the receive buffer
    received.fill(0);
    expect([...e.orig.src]).toEqual([10, 0, 0, 1]);
  });

  it("decodes the brief of an entry in place: mark, timeout, TCP state, counters, labels", () => {
    const withLabels = Buffer.concat([
      event,
      Buffer.from(hex("0800 0700 00000e10", "1400 1600 0000000000000102 0000002a 00000007"), "hex"), // timeout, labels
    ]);
    withLabels.writeUInt32LE(withLabels.length, 0);
    const datagram = Buffer.concat([Buffer.alloc(4, 0xee), withLabels]);
    const brief = new ConntrackBrief();
    decodeBrief(brief, datagram, 4, datagram.length);
    expect({ ...brief }).toEqual({
      family: 4,
      mark: 0x102,
      timeoutS: 3600,
      tcpState: 7,
      labelWord2: 42,
      labelWord3: 7,
      hasCounters: true,
      origPackets: 3n,
      origBytes: 180n,
      replyPackets: 2n,
      replyBytes: 120n,
    });
    // every field is overwritten by the next message (this one has no labels, timeout or TCP state)
    const bare = Buffer.from(hex("1c000000 0201 0000 00000000 00000000", "02 00 0000", "0800 0800 00000001"), "hex");
    decodeBrief(brief, bare, 0, bare.length);
    expect([brief.mark, brief.timeoutS, brief.tcpState, brief.labelWord2, brief.labelWord3, brief.hasCounters]).toEqual(
      [1, -1, -1, 0, 0, false],
    );
    expect(brief.origPackets).toBe(0n);
  });

  it("decodes at an offset inside a datagram and classifies event types", () => {
    const datagram = Buffer.concat([Buffer.alloc(8, 0xee), event]);
    expect(decodeEntry(datagram, 8, datagram.length).mark).toBe(0x102);
    expect(eventTypeOf(0x0102, 0)).toBe("destroy");
    expect(eventTypeOf(0x0100, 0x0600)).toBe("new");
    expect(eventTypeOf(0x0100, 0)).toBe("update");
    expect(eventTypeOf(0x0002, 0)).toBeUndefined();
  });
});

describe("netlink errors", () => {
  it("name the errno", () => {
    expect(errnoName(17)).toBe("EEXIST");
    expect(errnoName(100_000)).toBe("errno 100000");
    const e = new NetlinkError("conntrack get", 22);
    expect(e.message).toBe("netlink conntrack get failed: EINVAL (22)");
    expect(e.errno).toBe(22);
  });
});
