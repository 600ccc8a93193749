import * as constants from "./constants";
import { align4, type MessageWriter } from "./message-writer";
import type {
  ConntrackCreate,
  ConntrackEntry,
  ConntrackEventType,
  ConntrackFilter,
  ConntrackStats,
  ConntrackTuple,
  ConntrackWriteMode,
} from "./types";

// Module-local copies: loaders that compile modules to export getters (tsx/esbuild) would otherwise turn each
// use in the hot paths into a getter call.
const {
  AF_INET,
  AF_INET6,
  CTA_COUNTERS_BYTES,
  CTA_COUNTERS_ORIG,
  CTA_COUNTERS_PACKETS,
  CTA_COUNTERS_REPLY,
  CTA_ID,
  CTA_IP_V4_DST,
  CTA_IP_V4_SRC,
  CTA_IP_V6_DST,
  CTA_IP_V6_SRC,
  CTA_LABELS,
  CTA_LABELS_MASK,
  CTA_MARK,
  CTA_MARK_MASK,
  CTA_PROTOINFO,
  CTA_PROTOINFO_TCP,
  CTA_PROTOINFO_TCP_FLAGS_ORIGINAL,
  CTA_PROTOINFO_TCP_FLAGS_REPLY,
  CTA_PROTOINFO_TCP_STATE,
  CTA_PROTO_DST_PORT,
  CTA_PROTO_NUM,
  CTA_PROTO_SRC_PORT,
  CTA_STATUS,
  CTA_TIMEOUT,
  CTA_TUPLE_IP,
  CTA_TUPLE_ORIG,
  CTA_TUPLE_PROTO,
  CTA_TUPLE_REPLY,
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_GET_STATS,
  CTA_STATS_GLOBAL_ENTRIES,
  CTA_STATS_GLOBAL_MAX_ENTRIES,
  IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_NEW,
  IPS_ASSURED,
  IPS_CONFIRMED,
  IPS_SEEN_REPLY,
  IP_CT_TCP_FLAG_BE_LIBERAL,
  NFGENMSG_LEN,
  NFNL_SUBSYS_CTNETLINK,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  TCP_CONNTRACK_ESTABLISHED,
} = constants;

const CT_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
const CT_GET = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
const CT_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
/** Message type of a stats request and its answer. */
export const CT_GET_STATS = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
const LABELS_MASK_ALL = Buffer.alloc(16, 0xff);
/** struct nf_ct_tcp_flags { u8 flags; u8 mask; }: BE_LIBERAL set. */
const TCP_FLAGS_LIBERAL = Uint8Array.of(IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_BE_LIBERAL);

/** nfgenmsg family byte for a tuple family. */
export function afOf(family: 4 | 6 | undefined): number {
  return family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0;
}

/** The reply direction of a tuple: addresses and ports swapped. */
export function reverseTuple(t: ConntrackTuple): ConntrackTuple {
  return { family: t.family, protocol: t.protocol, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort };
}

function hasPorts(protocol: number): boolean {
  return protocol === 6 || protocol === 17;
}

function isPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 0xffff;
}

/** Throws RangeError for a tuple the kernel could not take (address length, port or protocol range). */
export function checkTuple(t: ConntrackTuple): void {
  const addrLen = t.family === 4 ? 4 : t.family === 6 ? 16 : -1;
  if (addrLen < 0) throw new RangeError(`conntrack tuple: family must be 4 or 6`);
  if (t.src.length !== addrLen || t.dst.length !== addrLen) {
    throw new RangeError(`conntrack tuple: IPv${t.family} addresses must be ${addrLen} bytes`);
  }
  if (!isPort(t.srcPort) || !isPort(t.dstPort)) throw new RangeError("conntrack tuple: ports must be 0..65535");
  if (!Number.isInteger(t.protocol) || t.protocol < 0 || t.protocol > 255) {
    throw new RangeError("conntrack tuple: protocol must be 0..255");
  }
}

/** CTA_TUPLE_{ORIG,REPLY} { IP { SRC, DST }, PROTO { NUM, SRC_PORT, DST_PORT } }. */
export function writeTuple(w: MessageWriter, attr: number, t: ConntrackTuple): void {
  checkTuple(t);
  const tuple = w.beginNest(attr);
  const ip = w.beginNest(CTA_TUPLE_IP);
  if (t.family === 4) {
    w.raw(CTA_IP_V4_SRC, t.src);
    w.raw(CTA_IP_V4_DST, t.dst);
  } else {
    w.raw(CTA_IP_V6_SRC, t.src);
    w.raw(CTA_IP_V6_DST, t.dst);
  }
  w.endNest(ip);
  const proto = w.beginNest(CTA_TUPLE_PROTO);
  w.u8(CTA_PROTO_NUM, t.protocol);
  if (hasPorts(t.protocol)) {
    w.be16(CTA_PROTO_SRC_PORT, t.srcPort);
    w.be16(CTA_PROTO_DST_PORT, t.dstPort);
  }
  w.endNest(proto);
  w.endNest(tuple);
}

const WRITE_FLAGS: Record<ConntrackWriteMode, number> = {
  create: NLM_F_CREATE | NLM_F_EXCL,
  upsert: NLM_F_CREATE,
  update: 0,
};

/** IPCTNL_MSG_CT_NEW for one entry. */
export function writeCreate(
  w: MessageWriter,
  seq: number,
  e: ConntrackCreate,
  mode: ConntrackWriteMode,
  ack: boolean,
): void {
  const flags = NLM_F_REQUEST | WRITE_FLAGS[mode] | (ack ? NLM_F_ACK : 0);
  // An update touches only what it is given: status and TCP state sent by default would reset a live entry's.
  const update = mode === "update";
  const m = w.beginNfMessage(CT_NEW, flags, seq, afOf(e.orig.family));
  writeTuple(w, CTA_TUPLE_ORIG, e.orig);
  if (!update || e.reply !== undefined) writeTuple(w, CTA_TUPLE_REPLY, e.reply ?? reverseTuple(e.orig));
  if (e.timeoutS !== undefined) w.be32(CTA_TIMEOUT, e.timeoutS);
  if (!update || e.status !== undefined) {
    // The kernel refuses (EBUSY) a status that would change IPS_CONFIRMED: new and existing entries both carry it.
    w.be32(CTA_STATUS, (e.status ?? IPS_SEEN_REPLY | IPS_ASSURED) | IPS_CONFIRMED);
  }
  if (e.mark !== undefined) w.be32(CTA_MARK, e.mark);
  if (e.labels !== undefined) {
    w.raw(CTA_LABELS, e.labels);
    w.raw(CTA_LABELS_MASK, LABELS_MASK_ALL.subarray(0, e.labels.length));
  }
  if (e.orig.protocol === 6 && (!update || e.tcpState !== undefined)) {
    const info = w.beginNest(CTA_PROTOINFO);
    const tcp = w.beginNest(CTA_PROTOINFO_TCP);
    w.u8(CTA_PROTOINFO_TCP_STATE, e.tcpState ?? TCP_CONNTRACK_ESTABLISHED);
    w.raw(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, TCP_FLAGS_LIBERAL);
    w.raw(CTA_PROTOINFO_TCP_FLAGS_REPLY, TCP_FLAGS_LIBERAL);
    w.endNest(tcp);
    w.endNest(info);
  }
  w.endMessage(m);
}

/** IPCTNL_MSG_CT_GET of one entry by its original tuple. */
export function writeGet(w: MessageWriter, seq: number, t: ConntrackTuple, ack: boolean): void {
  const m = w.beginNfMessage(CT_GET, NLM_F_REQUEST | (ack ? NLM_F_ACK : 0), seq, afOf(t.family));
  writeTuple(w, CTA_TUPLE_ORIG, t);
  w.endMessage(m);
}

/** IPCTNL_MSG_CT_DELETE of one entry by tuple (and id: only that incarnation). */
export function writeDelete(
  w: MessageWriter,
  seq: number,
  t: ConntrackTuple,
  id: number | undefined,
  ack: boolean,
): void {
  const m = w.beginNfMessage(CT_DELETE, NLM_F_REQUEST | (ack ? NLM_F_ACK : 0), seq, afOf(t.family));
  writeTuple(w, CTA_TUPLE_ORIG, t);
  if (id !== undefined) w.be32(CTA_ID, id);
  w.endMessage(m);
}

/** A dump request (GET with NLM_F_DUMP) filtered by mark/mask in the kernel. */
export function writeDump(w: MessageWriter, seq: number, f: ConntrackFilter): void {
  const m = w.beginNfMessage(CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, afOf(f.family));
  w.be32(CTA_MARK, f.mark);
  w.be32(CTA_MARK_MASK, f.mask);
  w.endMessage(m);
}

/** A DELETE without tuple: the kernel flushes every entry matching mark/mask. */
export function writeFlush(w: MessageWriter, seq: number, f: ConntrackFilter): void {
  const m = w.beginNfMessage(CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, afOf(f.family));
  w.be32(CTA_MARK, f.mark);
  w.be32(CTA_MARK_MASK, f.mask);
  w.endMessage(m);
}

/** IPCTNL_MSG_CT_GET_STATS: the namespace's entry count and limit. */
export function writeStatsRequest(w: MessageWriter, seq: number): void {
  const m = w.beginNfMessage(CT_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, seq, 0);
  w.endMessage(m);
}

/** Decodes the answer to a stats request (`msgStart`/`msgEnd`: the whole message). */
export function decodeStats(b: Buffer, msgStart: number, msgEnd: number): ConntrackStats {
  let entries = 0;
  let maxEntries = 0;
  for (let off = msgStart + NLMSG_HDRLEN + NFGENMSG_LEN; off + 4 <= msgEnd;) {
    const len = b.readUInt16LE(off);
    if (len < 4) break;
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (type === CTA_STATS_GLOBAL_ENTRIES) entries = b.readUInt32BE(off + 4);
    else if (type === CTA_STATS_GLOBAL_MAX_ENTRIES) maxEntries = b.readUInt32BE(off + 4);
    off += align4(len);
  }
  return { entries, maxEntries };
}

/** The event kind of a ctnetlink message, or undefined when it is not one. */
export function eventTypeOf(msgType: number, flags: number): ConntrackEventType | undefined {
  if (msgType === CT_DELETE) return "destroy";
  if (msgType !== CT_NEW) return undefined;
  return (flags & (NLM_F_CREATE | NLM_F_EXCL)) !== 0 ? "new" : "update";
}

/** True for a ctnetlink entry message (GET reply / dump part / NEW event). */
export function isEntryMessage(msgType: number): boolean {
  return msgType === CT_NEW || msgType === CT_DELETE;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** A copy of b[start, end) (byte loop: cheaper than a view plus a copy for 4 or 16 bytes). */
function copyBytes(b: Buffer, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  for (let i = start; i < end; i++) out[i - start] = b[i] as number;
  return out;
}

function decodeTuple(b: Buffer, start: number, end: number, family: 4 | 6): ConntrackTuple {
  let src = EMPTY;
  let dst = EMPTY;
  let protocol = 0;
  let srcPort = 0;
  let dstPort = 0;
  for (let off = start; off + 4 <= end;) {
    const len = b.readUInt16LE(off);
    if (len < 4) break;
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    const inner = off + 4;
    const innerEnd = off + len;
    if (type === CTA_TUPLE_IP) {
      for (let o = inner; o + 4 <= innerEnd;) {
        const l = b.readUInt16LE(o);
        if (l < 4) break;
        const t = b.readUInt16LE(o + 2) & NLA_TYPE_MASK;
        if (t === CTA_IP_V4_SRC || t === CTA_IP_V6_SRC) src = copyBytes(b, o + 4, o + l);
        else if (t === CTA_IP_V4_DST || t === CTA_IP_V6_DST) dst = copyBytes(b, o + 4, o + l);
        o += align4(l);
      }
    } else if (type === CTA_TUPLE_PROTO) {
      for (let o = inner; o + 4 <= innerEnd;) {
        const l = b.readUInt16LE(o);
        if (l < 4) break;
        const t = b.readUInt16LE(o + 2) & NLA_TYPE_MASK;
        if (t === CTA_PROTO_NUM) protocol = b[o + 4] ?? 0;
        else if (t === CTA_PROTO_SRC_PORT) srcPort = b.readUInt16BE(o + 4);
        else if (t === CTA_PROTO_DST_PORT) dstPort = b.readUInt16BE(o + 4);
        o += align4(l);
      }
    }
    off += align4(len);
  }
  return { family, protocol, src, dst, srcPort, dstPort };
}

function decodeCounters(b: Buffer, start: number, end: number): [bigint, bigint] {
  let packets = 0n;
  let bytes = 0n;
  for (let o = start; o + 4 <= end;) {
    const l = b.readUInt16LE(o);
    if (l < 4) break;
    const t = b.readUInt16LE(o + 2) & NLA_TYPE_MASK;
    if (t === CTA_COUNTERS_PACKETS) packets = b.readBigUInt64BE(o + 4);
    else if (t === CTA_COUNTERS_BYTES) bytes = b.readBigUInt64BE(o + 4);
    o += align4(l);
  }
  return [packets, bytes];
}

function decodeTcpState(b: Buffer, start: number, end: number): number | undefined {
  for (let o = start; o + 4 <= end;) {
    const l = b.readUInt16LE(o);
    if (l < 4) break;
    if ((b.readUInt16LE(o + 2) & NLA_TYPE_MASK) === CTA_PROTOINFO_TCP) {
      for (let p = o + 4; p + 4 <= o + l;) {
        const pl = b.readUInt16LE(p);
        if (pl < 4) break;
        if ((b.readUInt16LE(p + 2) & NLA_TYPE_MASK) === CTA_PROTOINFO_TCP_STATE) return b[p + 4];
        p += align4(pl);
      }
    }
    o += align4(l);
  }
  return undefined;
}

/**
 * Decodes one ctnetlink entry message: `msgStart` is the start of its nlmsghdr, `msgEnd` its end.
 */
export function decodeEntry(b: Buffer, msgStart: number, msgEnd: number): ConntrackEntry {
  const family: 4 | 6 = b[msgStart + NLMSG_HDRLEN] === AF_INET6 ? 6 : 4;
  let orig: ConntrackTuple | undefined;
  let reply: ConntrackTuple | undefined;
  let id = 0;
  let status = 0;
  let mark = 0;
  let labels: Buffer | undefined;
  let tcpState: number | undefined;
  let timeoutS: number | undefined;
  let origC: [bigint, bigint] | undefined;
  let replyC: [bigint, bigint] | undefined;
  for (let off = msgStart + NLMSG_HDRLEN + NFGENMSG_LEN; off + 4 <= msgEnd;) {
    const len = b.readUInt16LE(off);
    if (len < 4) break;
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    const p = off + 4;
    switch (type) {
      case CTA_TUPLE_ORIG:
        orig = decodeTuple(b, p, off + len, family);
        break;
      case CTA_TUPLE_REPLY:
        reply = decodeTuple(b, p, off + len, family);
        break;
      case CTA_ID:
        id = b.readUInt32BE(p);
        break;
      case CTA_STATUS:
        status = b.readUInt32BE(p);
        break;
      case CTA_MARK:
        mark = b.readUInt32BE(p);
        break;
      case CTA_TIMEOUT:
        timeoutS = b.readUInt32BE(p);
        break;
      case CTA_LABELS:
        labels = Buffer.from(b.subarray(p, off + len));
        break;
      case CTA_COUNTERS_ORIG:
        origC = decodeCounters(b, p, off + len);
        break;
      case CTA_COUNTERS_REPLY:
        replyC = decodeCounters(b, p, off + len);
        break;
      case CTA_PROTOINFO:
        tcpState = decodeTcpState(b, p, off + len);
        break;
      default:
        break;
    }
    off += align4(len);
  }
  const none: ConntrackTuple = { family, protocol: 0, src: EMPTY, dst: EMPTY, srcPort: 0, dstPort: 0 };
  // One literal with every field (absent ones undefined): one object shape for every entry.
  return {
    id,
    orig: orig ?? none,
    reply: reply ?? none,
    status,
    mark,
    labels,
    counters:
      origC === undefined && replyC === undefined
        ? undefined
        : {
            origPackets: origC?.[0] ?? 0n,
            origBytes: origC?.[1] ?? 0n,
            replyPackets: replyC?.[0] ?? 0n,
            replyBytes: replyC?.[1] ?? 0n,
          },
    tcpState,
    timeoutS,
  };
}

const ZERO = 0n;

/** A u64 at `at` (big-endian) as a bigint; 0n without allocating when it is zero. */
function be64(b: Buffer, at: number): bigint {
  const hi = b.readUInt32BE(at);
  const lo = b.readUInt32BE(at + 4);
  if (hi === 0) return lo === 0 ? ZERO : BigInt(lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * What a switch polls of an entry (the labels' first 8 bytes are not decoded), decoded in place into one reused object (no tuple, address or label copies):
 * `decodeBrief` overwrites it for every message.
 */
export class ConntrackBrief {
  /** Address family of the entry (4 or 6). */
  family: 4 | 6 = 4;
  /** ct mark (0 when absent). */
  mark = 0;
  /** Seconds left before the kernel expires it; -1 when absent. */
  timeoutS = -1;
  /** TCP_CONNTRACK_* state; -1 when absent (not TCP). */
  tcpState = -1;
  /** Bytes 8..11 of the labels as a big-endian u32; 0 when absent. */
  labelWord2 = 0;
  /** Bytes 12..15 of the labels as a big-endian u32; 0 when absent. */
  labelWord3 = 0;
  /** False when accounting is off (no counter attributes). */
  hasCounters = false;
  origPackets = 0n;
  origBytes = 0n;
  replyPackets = 0n;
  replyBytes = 0n;
}

function briefCounters(brief: ConntrackBrief, b: Buffer, start: number, end: number, orig: boolean): void {
  for (let o = start; o + 4 <= end;) {
    const l = b.readUInt16LE(o);
    if (l < 4) break;
    const t = b.readUInt16LE(o + 2) & NLA_TYPE_MASK;
    if (t === CTA_COUNTERS_PACKETS) {
      if (orig) brief.origPackets = be64(b, o + 4);
      else brief.replyPackets = be64(b, o + 4);
    } else if (t === CTA_COUNTERS_BYTES) {
      if (orig) brief.origBytes = be64(b, o + 4);
      else brief.replyBytes = be64(b, o + 4);
    }
    o += align4(l);
  }
}

/** Decodes an entry message (`msgStart`..`msgEnd`) into `brief` (every field overwritten). */
export function decodeBrief(brief: ConntrackBrief, b: Buffer, msgStart: number, msgEnd: number): void {
  brief.family = b[msgStart + NLMSG_HDRLEN] === AF_INET6 ? 6 : 4;
  brief.mark = 0;
  brief.timeoutS = -1;
  brief.tcpState = -1;
  brief.labelWord2 = 0;
  brief.labelWord3 = 0;
  brief.hasCounters = false;
  brief.origPackets = ZERO;
  brief.origBytes = ZERO;
  brief.replyPackets = ZERO;
  brief.replyBytes = ZERO;
  for (let off = msgStart + NLMSG_HDRLEN + NFGENMSG_LEN; off + 4 <= msgEnd;) {
    const len = b.readUInt16LE(off);
    if (len < 4) break;
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    const p = off + 4;
    switch (type) {
      case CTA_MARK:
        brief.mark = b.readUInt32BE(p);
        break;
      case CTA_TIMEOUT:
        brief.timeoutS = b.readUInt32BE(p);
        break;
      case CTA_LABELS:
        if (len >= 16) {
          brief.labelWord2 = b.readUInt32BE(p + 8);
          brief.labelWord3 = b.readUInt32BE(p + 12);
        }
        break;
      case CTA_COUNTERS_ORIG:
        brief.hasCounters = true;
        briefCounters(brief, b, p, off + len, true);
        break;
      case CTA_COUNTERS_REPLY:
        brief.hasCounters = true;
        briefCounters(brief, b, p, off + len, false);
        break;
      case CTA_PROTOINFO:
        brief.tcpState = decodeTcpState(b, p, off + len) ?? -1;
        break;
      default:
        break;
    }
    off += align4(len);
  }
}
