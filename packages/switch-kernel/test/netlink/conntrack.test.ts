import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { statSync } from "node:fs";
import { openConntrack, type Conntrack, type ConntrackEntry, type ConntrackTuple } from "../../src/netlink";
import { createTestNetns, kernelUnavailableReason, type TestNetns } from "./netns-fixture";

const skipReason = kernelUnavailableReason();
const describeKernel = skipReason === undefined ? describe : describe.skip;
if (skipReason !== undefined) console.log(`netlink conntrack tests skipped: ${skipReason}`);

const ENOENT = 2;
const EEXIST = 17;
const MARK_BIT = 0x4000_0000;

function udp(i: number, family: 4 | 6 = 4): ConntrackTuple {
  return family === 4
    ? {
        family,
        protocol: 17,
        src: Uint8Array.of(192, 0, 2, 1),
        dst: Uint8Array.of(198, 51, 100, 1),
        srcPort: 10_000 + i,
        dstPort: 53,
      }
    : {
        family,
        protocol: 17,
        src: Buffer.from("20010db8000000000000000000000001", "hex"),
        dst: Buffer.from("20010db8000000000000000000000002", "hex"),
        srcPort: 10_000 + i,
        dstPort: 53,
      };
}

function tcp(i: number): ConntrackTuple {
  return { ...udp(i), protocol: 6, dstPort: 443 };
}

describeKernel("conntrack over ctnetlink in a fresh network namespace", () => {
  let ns: TestNetns;
  let ct: Conntrack;

  beforeAll(() => {
    ns = createTestNetns("k1-ct");
    // A rule using conntrack: it hooks conntrack into this netns (no packet is tracked before) and, being a
    // `ct label` match, gives new entries the labels extension.
    ns.exec("nft", [
      "add table inet k1; add chain inet k1 c { type filter hook output priority 0; }; add rule inet k1 c ct label 127 counter",
    ]);
    ct = openConntrack({ netns: ns.path, events: { new: true, update: true, destroy: true } });
  });

  afterAll(() => {
    ct?.close();
    ns?.remove();
  });

  /** Removes everything this test made and drops the events that caused. */
  function clean(): void {
    ct.flush({ mark: 0, mask: 0 });
    ct.poll();
  }

  it("opens its sockets in the namespace and leaves the process's thread where it was", () => {
    const current = (): number => statSync("/proc/thread-self/ns/net").ino;
    const before = current();
    expect(statSync(ns.path).ino).not.toBe(before);
    const other = openConntrack({ netns: ns.path, events: { destroy: true } });
    const cursor = other.openDump({ mark: 0, mask: 0 });
    expect(current()).toBe(before);
    cursor.close();
    other.close();
    // an entry made here is in the namespace, not in the test's own
    clean();
    ct.write([{ orig: udp(77), timeoutS: 30 }]);
    const home = openConntrack();
    try {
      expect(home.get(udp(77))).toBeUndefined();
    } finally {
      home.close();
    }
    expect(ct.get(udp(77))).toBeDefined();
  });

  it("creates a batch with one result per entry, EEXIST for a duplicate, and reads entries back by tuple", () => {
    clean();
    const results = ct.write([
      { orig: udp(1), timeoutS: 100, mark: MARK_BIT | 1 },
      { orig: tcp(2), timeoutS: 200, mark: MARK_BIT | 2 },
      { orig: udp(1), timeoutS: 100 }, // the same tuple again
      { orig: udp(3, 6), timeoutS: 300, mark: 3 },
    ]);
    expect(results).toEqual([0, 0, EEXIST, 0]);
    const u = ct.get(udp(1));
    expect(u).toMatchObject({ mark: MARK_BIT | 1, orig: { protocol: 17, srcPort: 10_001, dstPort: 53 } });
    expect([...(u?.orig.src ?? [])]).toEqual([192, 0, 2, 1]);
    expect(u?.reply.srcPort).toBe(53);
    expect(u?.reply.dstPort).toBe(10_001);
    expect(u?.counters).toEqual({ origPackets: 0n, origBytes: 0n, replyPackets: 0n, replyBytes: 0n });
    expect(u?.timeoutS).toBeGreaterThan(90);
    expect(u?.timeoutS).toBeLessThanOrEqual(100);
    const t = ct.get(tcp(2));
    expect(t?.tcpState).toBe(3);
    const v6 = ct.get(udp(3, 6));
    expect(v6?.orig.family).toBe(6);
    expect(Buffer.from(v6?.orig.dst ?? []).toString("hex")).toBe("20010db8000000000000000000000002");
    expect(ct.get(udp(99))).toBeUndefined();
    const many = ct.getMany([udp(1), udp(99), tcp(2)]);
    expect(many.map((e) => e?.mark)).toEqual([MARK_BIT | 1, undefined, MARK_BIT | 2]);
  });

  it("reports the namespace's entry count and limit", () => {
    clean();
    expect(ct.stats().entries).toBe(0);
    ct.write([
      { orig: udp(1), timeoutS: 100 },
      { orig: udp(2), timeoutS: 100 },
    ]);
    const stats = ct.stats();
    expect(stats.entries).toBe(2);
    expect(stats.maxEntries).toBeGreaterThan(1000);
  });

  it("upserts and updates: mark and timeout change, update of a missing entry is ENOENT", () => {
    clean();
    expect(ct.write([{ orig: udp(1), timeoutS: 100, mark: 1 }])).toEqual([0]);
    expect(ct.write([{ orig: udp(1), timeoutS: 500, mark: 2 }], "upsert")).toEqual([0]);
    expect(ct.get(udp(1))?.mark).toBe(2);
    expect(ct.get(udp(1))?.timeoutS).toBeGreaterThan(400);
    expect(ct.write([{ orig: udp(2), timeoutS: 100, mark: 3 }], "update")).toEqual([ENOENT]);
    expect(ct.write([{ orig: udp(2), timeoutS: 100, mark: 3 }], "upsert")).toEqual([0]);
    expect(ct.write([{ orig: udp(2), timeoutS: 100, mark: 4 }], "update")).toEqual([0]);
    expect(ct.get(udp(2))?.mark).toBe(4);
  });

  it("an update of mark alone keeps the TCP state and the timeout; a create without timeout is EINVAL", () => {
    clean();
    expect(ct.write([{ orig: tcp(1), timeoutS: 300, tcpState: 4 }])).toEqual([0]);
    expect(ct.write([{ orig: tcp(1), mark: 9 }], "update")).toEqual([0]);
    const e = ct.get(tcp(1));
    expect(e?.mark).toBe(9);
    expect(e?.tcpState).toBe(4);
    expect(e?.timeoutS).toBeGreaterThan(250);
    expect(ct.write([{ orig: tcp(2) }])).toEqual([22]);
  });

  it("deletes by tuple and by tuple + id: a stale id leaves the entry alone", () => {
    clean();
    ct.write([
      { orig: udp(1), timeoutS: 100 },
      { orig: udp(2), timeoutS: 100 },
      { orig: udp(3), timeoutS: 100 },
    ]);
    const id = ct.get(udp(1))?.id ?? 0;
    expect(ct.delete(udp(1), (id + 1) >>> 0)).toBe(false);
    expect(ct.get(udp(1))).toBeDefined();
    expect(ct.delete(udp(1), id)).toBe(true);
    expect(ct.delete(udp(1))).toBe(false);
    expect(ct.deleteMany([{ tuple: udp(2) }, { tuple: udp(7) }, { tuple: udp(3) }])).toEqual([0, ENOENT, 0]);
    expect(ct.getMany([udp(1), udp(2), udp(3)])).toEqual([undefined, undefined, undefined]);
  });

  it("batches larger than one datagram keep their per-entry results in order", () => {
    clean();
    const n = 1500; // three datagrams of 512
    const entries = Array.from({ length: n }, (_, i) => ({ orig: udp(i), timeoutS: 100, mark: MARK_BIT | i }));
    // every 100th is created first, so that its create in the batch fails
    expect(ct.write(entries.filter((_, i) => i % 100 === 0))).toEqual(new Array(15).fill(0));
    const results = ct.write(entries);
    expect(results.filter((r, i) => r !== (i % 100 === 0 ? EEXIST : 0))).toEqual([]);
    const found = ct.getMany(entries.map((e) => e.orig));
    expect(found.filter((e, i) => e?.mark !== (MARK_BIT | i)).length).toBe(0);
    const deleted = ct.deleteMany(entries.map((e) => ({ tuple: e.orig })));
    expect(deleted.filter((r) => r !== 0)).toEqual([]);
  });

  it("a malformed tuple anywhere in a batch throws before any datagram is sent", () => {
    clean();
    const entries = Array.from({ length: 600 }, (_, i) => ({ orig: udp(i), timeoutS: 100 }));
    entries.push({ orig: { ...udp(600), srcPort: 70_000 }, timeoutS: 100 });
    expect(() => ct.write(entries)).toThrow(RangeError);
    expect(ct.dump({ mark: 0, mask: 0 }, () => undefined)).toBe(0);
  });

  it("dumps only the entries whose mark matches, whole, a page at a time or over turns, and flushes by mark", async () => {
    clean();
    const n = 700;
    const entries = Array.from({ length: n }, (_, i) => ({
      orig: udp(i),
      timeoutS: 100,
      mark: i % 2 === 0 ? MARK_BIT | i : i,
    }));
    expect(ct.write(entries).every((r) => r === 0)).toBe(true);
    const seen = new Set<number>();
    const count = ct.dump({ mark: MARK_BIT, mask: MARK_BIT }, (e) => seen.add(e.orig.srcPort - 10_000));
    expect(count).toBe(n / 2);
    expect(seen.size).toBe(n / 2);
    expect([...seen].every((i) => i % 2 === 0)).toBe(true);
    expect(ct.dump({ mark: MARK_BIT, mask: MARK_BIT, family: 6 }, () => undefined)).toBe(0);

    const cursor = ct.openDump({ mark: MARK_BIT, mask: MARK_BIT });
    const pages: number[] = [];
    let more = true;
    while (more) {
      let got = 0;
      more = cursor.read(100, () => got++);
      pages.push(got);
    }
    expect(pages.reduce((a, b) => a + b, 0)).toBe(n / 2);
    expect(pages.slice(0, 3)).toEqual([100, 100, 100]);
    expect(pages.every((p) => p <= 100)).toBe(true);

    // spread over event-loop turns: a ticker scheduled alongside gets turns while the dump runs
    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const inTurns = new Set<number>();
    const turnsCount = await ct.dumpInTurns(
      { mark: MARK_BIT, mask: MARK_BIT },
      (e) => inTurns.add(e.orig.srcPort),
      100,
    );
    ticking = false;
    expect(turnsCount).toBe(n / 2);
    expect(inTurns.size).toBe(n / 2);
    expect(ticks).toBeGreaterThanOrEqual(3);

    // the brief of the same dump: one reused object, marks as written, counters present (accounting is on)
    const briefs = new Set<object>();
    const marks = new Set<number>();
    const briefCount = await ct.dumpBriefInTurns(
      { mark: MARK_BIT, mask: MARK_BIT },
      (b) => {
        briefs.add(b);
        marks.add(b.mark);
        expect(b.hasCounters && b.origPackets === 0n && b.timeoutS > 0 && b.labelWord2 === 0).toBe(true);
      },
      100,
    );
    expect(briefCount).toBe(n / 2);
    expect(briefs.size).toBe(1);
    expect(marks.size).toBe(n / 2);

    // an abandoned cursor does not disturb the command socket
    const abandoned = ct.openDump({ mark: 0, mask: 0 });
    expect(abandoned.read(1, () => undefined)).toBe(true);
    abandoned.close();
    expect(ct.get(udp(0))?.mark).toBe(MARK_BIT);

    // a callback that throws: the dump is drained, the error surfaces, the socket stays usable
    expect(() =>
      ct.dump({ mark: 0, mask: 0 }, () => {
        throw new Error("stop");
      }),
    ).toThrow("stop");
    expect(ct.get(udp(1))?.mark).toBe(1);

    ct.flush({ mark: MARK_BIT, mask: MARK_BIT });
    expect(ct.dump({ mark: MARK_BIT, mask: MARK_BIT }, () => undefined)).toBe(0);
    expect(ct.dump({ mark: 0, mask: 0 }, () => undefined)).toBe(n / 2);
  });

  it("reports new, update and destroy events; destroy carries the final counters of real packets", () => {
    clean();
    const flow: ConntrackTuple = {
      family: 4,
      protocol: 17,
      src: Uint8Array.of(127, 0, 0, 1),
      dst: Uint8Array.of(127, 0, 0, 1),
      srcPort: 40_001,
      dstPort: 40_002,
    };
    expect(ct.write([{ orig: flow, timeoutS: 100, mark: 7 }])).toEqual([0]);
    // three datagrams of 10 bytes from 40001 to 40002 on lo, sent by a process inside the namespace (it has
    // exited, so the packets went through conntrack, before we look)
    ns.exec(process.execPath, [
      "-e",
      `const s = require("node:dgram").createSocket("udp4");
       s.bind(40001, "127.0.0.1", () => {
         let left = 3;
         const next = () => (left-- === 0 ? s.close() : s.send(Buffer.alloc(10), 40002, "127.0.0.1", next));
         next();
       });`,
    ]);
    const live = ct.get(flow);
    expect(live?.counters?.origPackets).toBe(3n);
    expect(live?.counters?.origBytes).toBe(3n * 38n); // 20 IP + 8 UDP + 10
    expect(ct.write([{ orig: flow, timeoutS: 100, mark: 8 }], "update")).toEqual([0]);
    expect(ct.delete(flow)).toBe(true);
    const events = ct.poll().filter((e) => e.entry.orig.srcPort === 40_001);
    expect(events.map((e) => [e.type, e.entry.mark])).toEqual([
      ["new", 7],
      ["update", 8],
      ["destroy", 8],
    ]);
    const final = (events[2] as { entry: ConntrackEntry }).entry;
    expect(final.counters).toEqual({ origPackets: 3n, origBytes: 114n, replyPackets: 0n, replyBytes: 0n });
    expect(ct.poll()).toEqual([]);
    expect(ct.eventsLost).toBe(0);
  });

  it("an overflowing event socket reports lost updates, and the kernel delivers every DESTROY event again", async () => {
    clean();
    // 16 KiB of buffer (the kernel doubles it): room for a few dozen events
    const small = openConntrack({ netns: ns.path, events: { update: true, destroy: true }, eventBufferBytes: 16384 });
    try {
      const n = 400;
      const entries = Array.from({ length: n }, (_, i) => ({ orig: udp(i), timeoutS: 100, mark: 1 }));
      expect(ct.write(entries).every((r) => r === 0)).toBe(true);
      expect(
        ct
          .write(
            entries.map((e) => ({ orig: e.orig, mark: 2 })),
            "update",
          )
          .every((r) => r === 0),
      ).toBe(true);
      const updates = small.poll().filter((e) => e.type === "update").length;
      expect(updates).toBeLessThan(n);
      expect(small.eventsLost).toBeGreaterThan(0);
      expect(ct.deleteMany(entries.map((e) => ({ tuple: e.orig }))).every((r) => r === 0)).toBe(true);
      const destroyed = new Set<number>();
      // The kernel retries undelivered DESTROY events from a worker (about every 100 ms): poll until all came.
      for (let i = 0; i < 3000 && destroyed.size < n; i++) {
        for (const e of small.poll()) if (e.type === "destroy") destroyed.add(e.entry.orig.srcPort);
        if (destroyed.size < n) await new Promise((r) => setTimeout(r, 10));
      }
      expect(destroyed.size).toBe(n);
    } finally {
      small.close();
      ct.poll();
    }
  }, 60_000);

  it("a closed conntrack throws a clear error instead of touching a stale descriptor", () => {
    const other = openConntrack({ netns: ns.path, events: { destroy: true } });
    other.close();
    other.close();
    expect(() => other.get(udp(1))).toThrow("socket closed");
    expect(() => other.poll()).toThrow("socket closed");
  });

  it("stores 128-bit labels (the ruleset uses ct label), and reports the TCP state in destroy events", () => {
    clean();
    ns.exec("nft", [
      "add table inet k1; add chain inet k1 c { type filter hook output priority 0; }; add rule inet k1 c ct label 127 counter",
    ]);
    const labels = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
    expect(ct.write([{ orig: tcp(5), timeoutS: 100, labels, tcpState: 4 }])).toEqual([0]);
    expect(ct.get(tcp(5))?.labels?.toString("hex")).toBe(labels.toString("hex"));
    ct.poll();
    expect(ct.delete(tcp(5))).toBe(true);
    const [destroy] = ct.poll();
    expect(destroy?.type).toBe("destroy");
    expect(destroy?.entry.tcpState).toBe(4);
    // (labels are in an event only when they changed: not in DESTROY)
  });
});
