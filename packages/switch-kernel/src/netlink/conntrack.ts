import * as constants from "./constants";
import * as codec from "./conntrack-codec";
import { ConntrackBrief } from "./conntrack-codec";
import { MessageWriter } from "./message-writer";
import { NetlinkError, NetlinkSocket, RECV_OVERRUN } from "./netlink-socket";
import type {
  ConntrackCreate,
  ConntrackEntry,
  ConntrackEvent,
  ConntrackFilter,
  ConntrackStats,
  ConntrackTuple,
  ConntrackWriteMode,
} from "./types";

// Module-local copies: loaders that compile modules to export getters (tsx/esbuild) would otherwise turn each
// use in the hot paths into a getter call.
const {
  ENOBUFS,
  ENOENT,
  NETLINK_NETFILTER,
  NFNLGRP_CONNTRACK_DESTROY,
  NFNLGRP_CONNTRACK_NEW,
  NFNLGRP_CONNTRACK_UPDATE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
} = constants;
const {
  CT_GET_STATS,
  checkTuple,
  decodeStats,
  writeStatsRequest,
  decodeEntry,
  decodeBrief,
  eventTypeOf,
  isEntryMessage,
  writeCreate,
  writeDelete,
  writeDump,
  writeFlush,
  writeGet,
} = codec;

/** How to open conntrack. */
export interface ConntrackOpenOptions {
  /** A network namespace file (e.g. /run/netns/NAME); default the current netns. */
  readonly netns?: string;
  /** Event groups to subscribe to (a second, non-blocking socket). */
  readonly events?: { readonly new?: boolean; readonly update?: boolean; readonly destroy?: boolean };
  /** Receive buffer of the event socket; default 32 MiB. */
  readonly eventBufferBytes?: number;
  /** Messages per datagram in batch calls; default 512. */
  readonly batchSize?: number;
}

/** A paged dump on its own socket. */
export interface ConntrackDumpCursor {
  /** Delivers at most `max` entries; returns true while more may follow. */
  read(max: number, onEntry: (entry: ConntrackEntry) => void): boolean;
  /** Ends the dump (closes its socket); call it when not read to the end. */
  close(): void;
}

/** Conntrack over ctnetlink: synchronous calls, per-entry results as errno numbers (0 = done). */
export interface Conntrack {
  /**
   * Creates or updates entries, many per datagram; result[i] is 0 or the errno of entries[i]. Throws RangeError,
   * before sending anything, when a tuple is malformed.
   */
  write(entries: readonly ConntrackCreate[], mode?: ConntrackWriteMode): number[];
  /** One entry by its original tuple; undefined when absent. */
  get(tuple: ConntrackTuple): ConntrackEntry | undefined;
  /** Many GETs, many per datagram; undefined where absent. */
  getMany(tuples: readonly ConntrackTuple[]): (ConntrackEntry | undefined)[];
  /** Deletes by original tuple (and kernel id when given); false when absent. */
  delete(tuple: ConntrackTuple, id?: number): boolean;
  /** Many deletes, many per datagram; result[i] is 0 or errno (ENOENT 2 when absent). */
  deleteMany(items: readonly { readonly tuple: ConntrackTuple; readonly id?: number }[]): number[];
  /** Deletes every entry matching the filter. */
  flush(filter: ConntrackFilter): void;
  /** The namespace's entry count and the table's limit (IPCTNL_MSG_CT_GET_STATS). */
  stats(): ConntrackStats;
  /** A whole dump, filtered in the kernel, each entry to `onEntry`; returns the count. */
  dump(filter: ConntrackFilter, onEntry: (entry: ConntrackEntry) => void): number;
  /** A dump read page by page (own socket). */
  openDump(filter: ConntrackFilter): ConntrackDumpCursor;
  /**
   * A whole dump spread over event-loop turns: at most `pageSize` entries per turn, `setImmediate` between, so a
   * large table does not block the process for its whole length. Resolves to the count.
   */
  dumpInTurns(filter: ConntrackFilter, onEntry: (entry: ConntrackEntry) => void, pageSize?: number): Promise<number>;
  /**
   * `dumpInTurns` decoding only what a switch polls (mark, timeout, TCP state, counters, the labels' first 8
   * bytes): every entry into one reused `ConntrackBrief`, valid during the callback only; nothing is copied.
   */
  dumpBriefInTurns(
    filter: ConntrackFilter,
    onEntry: (brief: Readonly<ConntrackBrief>) => void,
    pageSize?: number,
  ): Promise<number>;
  /** Pending events (non-blocking), at most about `max`; [] when none or not subscribed. */
  poll(max?: number): ConntrackEvent[];
  /**
   * How often the event socket overflowed (ENOBUFS). NEW and UPDATE events may have been dropped then; DESTROY
   * events are not: the kernel keeps them and delivers them again (NETLINK_BROADCAST_ERROR).
   */
  readonly eventsLost: number;
  /** Closes the sockets. */
  close(): void;
}

const COMMAND_RCVBUF = 8 * 1024 * 1024;
const COMMAND_SNDBUF = 4 * 1024 * 1024;
const RECV_TIMEOUT_MS = 5000;

/** Opens ctnetlink sockets in the current (or the given) network namespace. */
export function openConntrack(options: ConntrackOpenOptions = {}): Conntrack {
  return new CtnetlinkConntrack(options);
}

function errnoAt(b: Buffer, off: number): number {
  return -b.readInt32LE(off + NLMSG_HDRLEN);
}

class CtnetlinkConntrack implements Conntrack {
  private readonly cmd: NetlinkSocket;
  private readonly events: NetlinkSocket | undefined;
  private readonly w = new MessageWriter();
  private readonly batch: number;
  private seq = (Date.now() & 0xffff) << 8;
  eventsLost = 0;

  constructor(private readonly options: ConntrackOpenOptions) {
    this.batch = Math.max(1, options.batchSize ?? 512);
    this.cmd = NetlinkSocket.open(NETLINK_NETFILTER, {
      netns: options.netns,
      rcvbufBytes: COMMAND_RCVBUF,
      sndbufBytes: COMMAND_SNDBUF,
      recvTimeoutMs: RECV_TIMEOUT_MS,
      capAck: true,
    });
    const ev = options.events;
    const groups =
      (ev?.new === true ? 1 << (NFNLGRP_CONNTRACK_NEW - 1) : 0) |
      (ev?.update === true ? 1 << (NFNLGRP_CONNTRACK_UPDATE - 1) : 0) |
      (ev?.destroy === true ? 1 << (NFNLGRP_CONNTRACK_DESTROY - 1) : 0);
    if (groups !== 0) {
      try {
        this.events = NetlinkSocket.open(NETLINK_NETFILTER, {
          netns: options.netns,
          groups,
          rcvbufBytes: options.eventBufferBytes ?? 32 * 1024 * 1024,
          reliableEvents: true,
        });
      } catch (err) {
        this.cmd.close();
        throw err;
      }
    }
  }

  private nextSeqs(count: number): number {
    const first = this.seq;
    this.seq = (this.seq + count) >>> 0;
    return first;
  }

  /**
   * Sends the writer's datagram (messages with seqs first..first+count-1, ACK on the last) and reads until the
   * last one is answered. Kernel errors go to `onError(i, errno)`, other answers to `onReply(i, type, buf, start, end)`.
   */
  private exchange(
    first: number,
    count: number,
    onError: (i: number, errno: number) => void,
    onReply?: (i: number, type: number, buf: Buffer, start: number, end: number) => void,
  ): void {
    this.cmd.send(this.w.buffer, this.w.length);
    const last = count - 1;
    for (let done = false; !done;) {
      const n = this.cmd.recv(false);
      if (n === RECV_OVERRUN) throw new NetlinkError("recv (acks lost: ENOBUFS)", ENOBUFS);
      const b = this.cmd.rbuf;
      for (let off = 0; off + NLMSG_HDRLEN <= n;) {
        const len = b.readUInt32LE(off);
        if (len < NLMSG_HDRLEN) break;
        const i = (b.readUInt32LE(off + 8) - first) >>> 0;
        if (i < count) {
          const type = b.readUInt16LE(off + 4);
          if (type === NLMSG_ERROR) {
            const errno = errnoAt(b, off);
            if (errno !== 0) onError(i, errno);
            if (i === last) done = true;
          } else if (onReply !== undefined) {
            onReply(i, type, b, off, off + len);
          }
        }
        off += (len + 3) & ~3;
      }
    }
  }

  write(entries: readonly ConntrackCreate[], mode: ConntrackWriteMode = "create"): number[] {
    // All checked before anything is sent: a bad entry must not leave earlier datagrams applied but unreported.
    for (const e of entries) {
      checkTuple(e.orig);
      if (e.reply !== undefined) checkTuple(e.reply);
    }
    const results = new Array<number>(entries.length).fill(0);
    for (let base = 0; base < entries.length; base += this.batch) {
      const count = Math.min(this.batch, entries.length - base);
      const first = this.nextSeqs(count);
      this.w.reset();
      for (let i = 0; i < count; i++) {
        writeCreate(this.w, first + i, entries[base + i] as ConntrackCreate, mode, i === count - 1);
      }
      this.exchange(first, count, (i, errno) => (results[base + i] = errno));
    }
    return results;
  }

  get(tuple: ConntrackTuple): ConntrackEntry | undefined {
    return this.getMany([tuple])[0];
  }

  getMany(tuples: readonly ConntrackTuple[]): (ConntrackEntry | undefined)[] {
    for (const t of tuples) checkTuple(t);
    const results = new Array<ConntrackEntry | undefined>(tuples.length).fill(undefined);
    let failure: NetlinkError | undefined;
    for (let base = 0; base < tuples.length; base += this.batch) {
      const count = Math.min(this.batch, tuples.length - base);
      const first = this.nextSeqs(count);
      this.w.reset();
      for (let i = 0; i < count; i++) writeGet(this.w, first + i, tuples[base + i] as ConntrackTuple, i === count - 1);
      this.exchange(
        first,
        count,
        (_i, errno) => {
          if (errno !== ENOENT) failure ??= new NetlinkError("conntrack get", errno);
        },
        (i, type, b, start, end) => {
          if (isEntryMessage(type)) results[base + i] = decodeEntry(b, start, end);
        },
      );
    }
    if (failure !== undefined) throw failure;
    return results;
  }

  delete(tuple: ConntrackTuple, id?: number): boolean {
    const errno = this.deleteMany([id === undefined ? { tuple } : { tuple, id }])[0] ?? 0;
    if (errno === 0) return true;
    if (errno === ENOENT) return false;
    throw new NetlinkError("conntrack delete", errno);
  }

  deleteMany(items: readonly { readonly tuple: ConntrackTuple; readonly id?: number }[]): number[] {
    for (const item of items) checkTuple(item.tuple);
    const results = new Array<number>(items.length).fill(0);
    for (let base = 0; base < items.length; base += this.batch) {
      const count = Math.min(this.batch, items.length - base);
      const first = this.nextSeqs(count);
      this.w.reset();
      for (let i = 0; i < count; i++) {
        const item = items[base + i] as { readonly tuple: ConntrackTuple; readonly id?: number };
        writeDelete(this.w, first + i, item.tuple, item.id, i === count - 1);
      }
      this.exchange(first, count, (i, errno) => (results[base + i] = errno));
    }
    return results;
  }

  flush(filter: ConntrackFilter): void {
    const first = this.nextSeqs(1);
    this.w.reset();
    writeFlush(this.w, first, filter);
    let failure = 0;
    this.exchange(first, 1, (_i, errno) => (failure = errno));
    if (failure !== 0) throw new NetlinkError("conntrack flush", failure);
  }

  stats(): ConntrackStats {
    const first = this.nextSeqs(1);
    this.w.reset();
    writeStatsRequest(this.w, first);
    let failure = 0;
    let stats: ConntrackStats | undefined;
    this.exchange(
      first,
      1,
      (_i, errno) => (failure = errno),
      (_i, type, b, start, end) => {
        if (type === CT_GET_STATS) stats = decodeStats(b, start, end);
      },
    );
    if (failure !== 0) throw new NetlinkError("conntrack stats", failure);
    if (stats === undefined) throw new NetlinkError("conntrack stats (no answer)", ENOENT);
    return stats;
  }

  dump(filter: ConntrackFilter, onEntry: (entry: ConntrackEntry) => void): number {
    const cursor = new DumpReader(this.cmd, this.w, this.nextSeqs(1), filter);
    let count = 0;
    let thrown: unknown;
    let failed = false;
    // Read to the end even when onEntry throws: the socket must be clean for the next request.
    while (
      cursor.read(Number.MAX_SAFE_INTEGER, (b, start, end) => {
        if (failed) return;
        try {
          onEntry(decodeEntry(b, start, end));
          count++;
        } catch (err) {
          failed = true;
          thrown = err;
        }
      })
    );
    if (failed) throw thrown;
    return count;
  }

  openDump(filter: ConntrackFilter): ConntrackDumpCursor {
    const raw = this.openRawDump(filter);
    return {
      read: (max, onEntry) => raw.read(max, (b, start, end) => onEntry(decodeEntry(b, start, end))),
      close: raw.close,
    };
  }

  /** A paged dump on its own socket, each entry message handed over undecoded. */
  private openRawDump(filter: ConntrackFilter): RawDumpCursor {
    const sock = NetlinkSocket.open(NETLINK_NETFILTER, {
      netns: this.options.netns,
      recvTimeoutMs: RECV_TIMEOUT_MS,
      capAck: true,
    });
    const reader = new DumpReader(sock, new MessageWriter(256), this.nextSeqs(1), filter);
    return {
      read: (max, onMessage) => {
        let more: boolean;
        try {
          more = reader.read(max, onMessage);
        } catch (err) {
          // A socket failure ends the dump; an error of the caller's callback leaves the cursor usable.
          if (err instanceof NetlinkError) sock.close();
          throw err;
        }
        if (!more) sock.close();
        return more;
      },
      close: () => sock.close(),
    };
  }

  dumpInTurns(filter: ConntrackFilter, onEntry: (entry: ConntrackEntry) => void, pageSize = 256): Promise<number> {
    return this.rawDumpInTurns(filter, (b, start, end) => onEntry(decodeEntry(b, start, end)), pageSize);
  }

  dumpBriefInTurns(
    filter: ConntrackFilter,
    onEntry: (brief: Readonly<ConntrackBrief>) => void,
    pageSize = 256,
  ): Promise<number> {
    const brief = new ConntrackBrief();
    return this.rawDumpInTurns(
      filter,
      (b, start, end) => {
        decodeBrief(brief, b, start, end);
        onEntry(brief);
      },
      pageSize,
    );
  }

  private async rawDumpInTurns(filter: ConntrackFilter, onMessage: OnMessage, pageSize: number): Promise<number> {
    const cursor = this.openRawDump(filter);
    let count = 0;
    const deliver: OnMessage = (b, start, end) => {
      count++;
      onMessage(b, start, end);
    };
    try {
      while (cursor.read(pageSize, deliver)) await new Promise<void>((resolve) => setImmediate(resolve));
      return count;
    } finally {
      cursor.close();
    }
  }

  poll(max = Number.MAX_SAFE_INTEGER): ConntrackEvent[] {
    const out: ConntrackEvent[] = [];
    const sock = this.events;
    if (sock === undefined) return out;
    while (out.length < max) {
      const n = sock.recv(true);
      if (n === RECV_OVERRUN) {
        this.eventsLost++;
        continue;
      }
      if (n < 0) break;
      const b = sock.rbuf;
      for (let off = 0; off + NLMSG_HDRLEN <= n;) {
        const len = b.readUInt32LE(off);
        if (len < NLMSG_HDRLEN) break;
        const type = eventTypeOf(b.readUInt16LE(off + 4), b.readUInt16LE(off + 6));
        if (type !== undefined) out.push({ type, entry: decodeEntry(b, off, off + len) });
        off += (len + 3) & ~3;
      }
    }
    return out;
  }

  close(): void {
    this.cmd.close();
    this.events?.close();
  }
}

/** Receives one undecoded entry message: `b[start, end)`, valid during the call only. */
type OnMessage = (b: Buffer, start: number, end: number) => void;

/** `ConntrackDumpCursor` handing over undecoded messages. */
interface RawDumpCursor {
  read(max: number, onMessage: OnMessage): boolean;
  close(): void;
}

/** Reads one dump from a socket, a page at a time, remembering where it stopped inside a datagram. */
class DumpReader {
  private started = false;
  private finished = false;
  private off = 0;
  private n = 0;

  constructor(
    private readonly sock: NetlinkSocket,
    private readonly w: MessageWriter,
    private readonly seq: number,
    private readonly filter: ConntrackFilter,
  ) {}

  read(max: number, onMessage: OnMessage): boolean {
    if (this.finished) return false;
    if (!this.started) {
      this.started = true;
      this.w.reset();
      writeDump(this.w, this.seq, this.filter);
      this.sock.send(this.w.buffer, this.w.length);
    }
    let delivered = 0;
    const b = this.sock.rbuf;
    while (delivered < max) {
      if (this.off + NLMSG_HDRLEN > this.n) {
        const n = this.sock.recv(false);
        if (n === RECV_OVERRUN) throw new NetlinkError("dump recv (ENOBUFS)", ENOBUFS);
        this.n = n;
        this.off = 0;
        continue;
      }
      const off = this.off;
      const len = b.readUInt32LE(off);
      if (len < NLMSG_HDRLEN) {
        this.off = this.n;
        continue;
      }
      this.off += (len + 3) & ~3;
      if (b.readUInt32LE(off + 8) !== this.seq) continue;
      const type = b.readUInt16LE(off + 4);
      if (type === NLMSG_DONE) {
        this.finished = true;
        return false;
      }
      if (type === NLMSG_ERROR) {
        const errno = errnoAt(b, off);
        this.finished = true;
        if (errno !== 0) throw new NetlinkError("conntrack dump", errno);
        return false;
      }
      if (isEntryMessage(type)) {
        delivered++;
        onMessage(b, off, off + len);
      }
    }
    return true;
  }
}
