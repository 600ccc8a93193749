import type { CloseCode, Session, SessionSpec, SessionState } from "@sessionoffload/offload-api";
import { counterFromStored, idFromStored } from "./id-codec";

/** A `sessions` row as better-sqlite3 returns it with safe integers. */
export interface SessionRow {
  readonly id: bigint;
  readonly protocol: string;
  readonly state: string;
  readonly close_code: string;
  readonly in_packets: bigint;
  readonly out_packets: bigint;
  readonly in_bytes: bigint;
  readonly out_bytes: bigint;
  readonly start_time: bigint;
  readonly end_time: bigint | null;
  readonly last_seen: bigint;
}

/** Columns of `SessionRow`, for SELECT lists. */
export const SESSION_COLUMNS =
  "id, protocol, state, close_code, in_packets, out_packets, in_bytes, out_bytes, start_time, end_time, last_seen";

/** Converts a stored row to the domain `Session`. */
export function rowToSession(row: SessionRow): Session {
  return {
    id: idFromStored(row.id),
    state: row.state as SessionState,
    closeCode: row.close_code as CloseCode,
    inPackets: counterFromStored(row.in_packets),
    outPackets: counterFromStored(row.out_packets),
    inBytes: counterFromStored(row.in_bytes),
    outBytes: counterFromStored(row.out_bytes),
    startTime: row.start_time,
    endTime: row.end_time ?? undefined,
  };
}

/**
 * The 7-tuple of a spec as bytes, unambiguous because every variable-length
 * part is prefixed by its length: (inLif, outLif, sourceIp, sourcePort,
 * destinationIp, destinationPort, protocol).
 */
export function liveKey(spec: SessionSpec): Buffer {
  const parts = [
    Buffer.from(spec.inLif, "utf8"),
    Buffer.from(spec.outLif, "utf8"),
    Buffer.from(spec.sourceIp),
    Buffer.from(spec.destinationIp),
  ];
  const fixed = Buffer.alloc(5);
  fixed.writeUInt16BE(spec.sourcePort, 0);
  fixed.writeUInt16BE(spec.destinationPort, 2);
  fixed.writeUInt8(spec.protocol === "tcp" ? 6 : 17, 4);
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length, 0);
    chunks.push(length, part);
  }
  chunks.push(fixed);
  return Buffer.concat(chunks);
}
