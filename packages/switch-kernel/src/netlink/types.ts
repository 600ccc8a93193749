/** A conntrack tuple (one direction). Addresses are raw bytes in network order (4 for IPv4, 16 for IPv6). */
export interface ConntrackTuple {
  readonly family: 4 | 6;
  /** IP protocol number: 6 TCP, 17 UDP (ports are sent for these two only). */
  readonly protocol: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly srcPort: number;
  readonly dstPort: number;
}

/** Per-direction counters of an entry (needs net.netfilter.nf_conntrack_acct=1 in its netns). */
export interface ConntrackCounters {
  readonly origPackets: bigint;
  readonly origBytes: bigint;
  readonly replyPackets: bigint;
  readonly replyBytes: bigint;
}

/** A decoded conntrack entry (from a get, a dump or an event); its buffers are copies. */
export interface ConntrackEntry {
  /** The kernel's id of this incarnation (CTA_ID). */
  readonly id: number;
  readonly orig: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /** IPS_* status bits. */
  readonly status: number;
  /** ct mark (0 when the kernel sent none). */
  readonly mark: number;
  /** 16 bytes of ct labels, when the kernel sent them. */
  readonly labels?: Buffer;
  /** Absent when accounting is off. */
  readonly counters?: ConntrackCounters;
  /** TCP_CONNTRACK_* state, TCP only (3 ESTABLISHED, 4 FIN_WAIT, 5 CLOSE_WAIT, 6 LAST_ACK, 7 TIME_WAIT, 8 CLOSE). */
  readonly tcpState?: number;
  /** Seconds left before the kernel expires it. */
  readonly timeoutS?: number;
}

/**
 * One entry to create or update. In "create" and "upsert" modes unset fields take the defaults below (so an
 * upsert of an existing TCP entry resets its TCP state); in "update" mode only the fields given are sent.
 */
export interface ConntrackCreate {
  readonly orig: ConntrackTuple;
  /** Default: `orig` reversed. */
  readonly reply?: ConntrackTuple;
  /** Seconds; required to create (the kernel answers EINVAL without it). */
  readonly timeoutS?: number;
  readonly mark?: number;
  /** 16 bytes (needs the connlabel extension: an nft rule using `ct label`). */
  readonly labels?: Uint8Array;
  /** Default IPS_SEEN_REPLY | IPS_ASSURED; IPS_CONFIRMED is always added (the kernel wants it). */
  readonly status?: number;
  /** TCP only; default ESTABLISHED, with BE_LIBERAL window tracking in both directions. */
  readonly tcpState?: number;
}

/** How `write` treats an existing entry. */
export type ConntrackWriteMode =
  /** Fails with EEXIST when present. */
  | "create"
  /** Creates, or updates mark/labels/timeout/status of an existing one. */
  | "upsert"
  /** Fails with ENOENT when missing. */
  | "update";

/** A dump or flush filter applied in the kernel: entries whose (mark & mask) === (filter.mark & mask). */
export interface ConntrackFilter {
  readonly mark: number;
  readonly mask: number;
  /** Only this family (default both). */
  readonly family?: 4 | 6;
}

/** What a conntrack event reports. */
export type ConntrackEventType = "new" | "update" | "destroy";

/** A conntrack event read from the event socket. */
export interface ConntrackEvent {
  readonly type: ConntrackEventType;
  readonly entry: ConntrackEntry;
}

/** The conntrack table of a namespace: its entries now and the most it takes (nf_conntrack_max). */
export interface ConntrackStats {
  readonly entries: number;
  readonly maxEntries: number;
}
