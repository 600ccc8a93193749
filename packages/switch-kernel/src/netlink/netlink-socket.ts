import { closeSync, openSync } from "node:fs";
import { constants as osConstants } from "node:os";
import * as constants from "./constants";
import { libc } from "./libc";

// Module-local copies: loaders that compile modules to export getters (tsx/esbuild) would otherwise turn each
// use in the hot paths into a getter call.
const {
  AF_NETLINK,
  CLONE_NEWNET,
  EAGAIN,
  EINTR,
  ENOBUFS,
  MSG_DONTWAIT,
  NETLINK_BROADCAST_ERROR,
  NETLINK_CAP_ACK,
  NETLINK_NO_ENOBUFS,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  EBADF,
} = constants;

let errnoNames: Map<number, string> | undefined;

/** "EEXIST" for 17, ... (from the platform's errno table); "errno N" when unknown. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A failed socket call or kernel answer: `errno` is the C errno, `op` the call (or step) that failed. */
export class NetlinkError extends Error {
  constructor(
    readonly op: string,
    readonly errno: number,
  ) {
    super(`netlink ${op} failed: ${errnoName(errno)} (${errno})`);
    this.name = "NetlinkError";
  }
}

/** How to open a netlink socket. */
export interface NetlinkSocketOptions {
  /** A network namespace file (e.g. /run/netns/NAME) to create the socket in; default the current one. */
  readonly netns?: string;
  /** Multicast groups to join (bit g-1 for group g). */
  readonly groups?: number;
  /** SO_RCVBUFFORCE (falls back to SO_RCVBUF when not privileged). */
  readonly rcvbufBytes?: number;
  /** SO_SNDBUFFORCE (falls back to SO_SNDBUF). */
  readonly sndbufBytes?: number;
  /** SO_RCVTIMEO for blocking reads (ms); 0 = none. */
  readonly recvTimeoutMs?: number;
  /** NETLINK_CAP_ACK: error acks without the request's payload. */
  readonly capAck?: boolean;
  /**
   * NETLINK_BROADCAST_ERROR: the kernel learns when an event could not be queued here; ctnetlink then keeps a
   * DESTROY event and delivers it again later instead of dropping it.
   */
  readonly reliableEvents?: boolean;
  /** NETLINK_NO_ENOBUFS: overflows are not reported to the reader (recv never fails with ENOBUFS). */
  readonly noEnobufs?: boolean;
}

/** recv() result: nothing to read (non-blocking). */
export const RECV_EMPTY = -1;
/** recv() result: the kernel dropped messages for want of buffer (ENOBUFS). */
export const RECV_OVERRUN = -2;

const RECV_BUFFER_BYTES = 64 * 1024;

function intOpt(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return b;
}

/** A raw AF_NETLINK socket driven synchronously through libc; one reusable receive buffer. */
export class NetlinkSocket {
  /** The last datagram received (valid until the next recv). */
  readonly rbuf = Buffer.alloc(RECV_BUFFER_BYTES);
  private readonly addr = Buffer.alloc(12);
  private closed = false;
  private readonly c = libc();

  private constructor(readonly fd: number) {
    this.addr.writeUInt16LE(AF_NETLINK, 0);
  }

  /** Opens a socket of netlink `protocol` (NETLINK_NETFILTER for ctnetlink). */
  static open(protocol: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const fd = createIn(options.netns, protocol);
    const sock = new NetlinkSocket(fd);
    try {
      sock.configure(options);
    } catch (err) {
      sock.close();
      throw err;
    }
    return sock;
  }

  private setInt(level: number, name: number, value: number): number {
    return libc().setsockopt(this.fd, level, name, intOpt(value), 4);
  }

  private check(rc: number, op: string): void {
    if (rc < 0) throw new NetlinkError(op, libc().errno());
  }

  private configure(o: NetlinkSocketOptions): void {
    const c = libc();
    if (o.rcvbufBytes !== undefined && this.setInt(SOL_SOCKET, SO_RCVBUFFORCE, o.rcvbufBytes) < 0) {
      this.check(this.setInt(SOL_SOCKET, SO_RCVBUF, o.rcvbufBytes), "setsockopt(SO_RCVBUF)");
    }
    if (o.sndbufBytes !== undefined && this.setInt(SOL_SOCKET, SO_SNDBUFFORCE, o.sndbufBytes) < 0) {
      this.check(this.setInt(SOL_SOCKET, SO_SNDBUF, o.sndbufBytes), "setsockopt(SO_SNDBUF)");
    }
    if (o.recvTimeoutMs !== undefined && o.recvTimeoutMs > 0) {
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(o.recvTimeoutMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt((o.recvTimeoutMs % 1000) * 1000), 8);
      this.check(c.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), "setsockopt(SO_RCVTIMEO)");
    }
    if (o.capAck === true) this.check(this.setInt(SOL_NETLINK, NETLINK_CAP_ACK, 1), "setsockopt(CAP_ACK)");
    if (o.reliableEvents === true) {
      this.check(this.setInt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1), "setsockopt(BROADCAST_ERROR)");
    }
    if (o.noEnobufs === true) this.check(this.setInt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1), "setsockopt(NO_ENOBUFS)");
    const local = Buffer.alloc(12);
    local.writeUInt16LE(AF_NETLINK, 0);
    local.writeUInt32LE((o.groups ?? 0) >>> 0, 8);
    this.check(c.bind(this.fd, local, 12), "bind");
  }

  /** Sends `len` bytes of `buf` to the kernel as one datagram. */
  send(buf: Buffer, len: number): void {
    if (this.closed) throw new NetlinkError("sendto (socket closed)", EBADF);
    const c = this.c;
    for (;;) {
      const n = c.sendto(this.fd, buf, len, 0, this.addr, 12);
      if (n >= 0) return;
      const e = c.errno();
      if (e !== EINTR) throw new NetlinkError("sendto", e);
    }
  }

  /**
   * Reads one datagram into `rbuf`; returns its length, or RECV_EMPTY (non-blocking and nothing there) or
   * RECV_OVERRUN (ENOBUFS: messages were lost). A blocking read that times out throws.
   */
  recv(dontWait: boolean): number {
    if (this.closed) throw new NetlinkError("recv (socket closed)", EBADF);
    const c = this.c;
    for (;;) {
      const n = c.recv(this.fd, this.rbuf, this.rbuf.length, dontWait ? MSG_DONTWAIT : 0);
      if (n >= 0) return n;
      const e = c.errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) {
        if (dontWait) return RECV_EMPTY;
        throw new NetlinkError("recv (timed out)", e);
      }
      if (e === ENOBUFS) return RECV_OVERRUN;
      throw new NetlinkError("recv", e);
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}

function createIn(netns: string | undefined, protocol: number): number {
  const c = libc();
  const make = (): number => {
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new NetlinkError("socket", c.errno());
    return fd;
  };
  if (netns === undefined) return make();
  // The socket belongs to the namespace of the thread that creates it: enter, create, come back.
  const home = openSync("/proc/thread-self/ns/net", "r");
  let target: number | undefined;
  try {
    target = openSync(netns, "r");
    if (c.setns(target, CLONE_NEWNET) < 0) throw new NetlinkError(`setns(${netns})`, c.errno());
    try {
      return make();
    } finally {
      if (c.setns(home, CLONE_NEWNET) < 0) {
        // Staying in the other namespace would silently misdirect everything after; stop here.
        throw new NetlinkError("setns(back home)", c.errno());
      }
    }
  } finally {
    closeSync(home);
    if (target !== undefined) closeSync(target);
  }
}
