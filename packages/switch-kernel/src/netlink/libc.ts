import koffi from "koffi";
import { endianness } from "node:os";

/** The libc calls the netlink socket needs, bound once through koffi (synchronous FFI). */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, addrLen: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, valueLen: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  setns(fd: number, nstype: number): number;
  /** errno of the last failed call (read right after a call returned -1). */
  errno(): number;
}

let bound: Libc | undefined;

/** libc through koffi; loaded on first use. */
export function libc(): Libc {
  if (bound !== undefined) return bound;
  if (endianness() !== "LE") throw new Error("the netlink layer writes host-order headers as little-endian only");
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load("libc.so.6");
  } catch (err) {
    throw new Error(`netlink: cannot load libc.so.6 through koffi (glibc Linux needed): ${(err as Error).message}`);
  }
  const socket = lib.func("int socket(int domain, int type, int protocol)") as Libc["socket"];
  const bind = lib.func("int bind(int fd, const void *addr, uint32_t len)") as Libc["bind"];
  const setsockopt = lib.func(
    "int setsockopt(int fd, int level, int name, const void *value, uint32_t len)",
  ) as Libc["setsockopt"];
  const sendto = lib.func(
    "long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)",
  ) as Libc["sendto"];
  const recv = lib.func("long recv(int fd, void *buf, size_t len, int flags)") as Libc["recv"];
  const close = lib.func("int close(int fd)") as Libc["close"];
  const setns = lib.func("int setns(int fd, int nstype)") as Libc["setns"];
  bound = { socket, bind, setsockopt, sendto, recv, close, setns, errno: () => koffi.errno() };
  return bound;
}
