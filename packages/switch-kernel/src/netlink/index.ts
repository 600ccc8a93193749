/** The package-internal netlink layer: ctnetlink over a libc netlink socket (koffi). */
export { openConntrack } from "./conntrack";
export type { Conntrack, ConntrackDumpCursor, ConntrackOpenOptions } from "./conntrack";
export { NetlinkError, errnoName } from "./netlink-socket";
export { ConntrackBrief, reverseTuple } from "./conntrack-codec";
export type * from "./types";
