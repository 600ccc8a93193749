/**
 * The conntrack labels (128 bits) of a session's entry: its id, big-endian, in
 * the first 8 bytes (for diagnostics with `conntrack -L -o labels` and for a
 * future recovery of sessions after a restart), then the switch's serial number
 * of the entry (u32, big-endian: tells a listed entry from an earlier one of an
 * id that was deleted and used again); the rest zero.
 */
export function sessionLabels(id: bigint, serial = 0): Uint8Array {
  const labels = new Uint8Array(16);
  const hi = Number(id >> 32n);
  const lo = Number(id & 0xffff_ffffn);
  labels[0] = hi >>> 24;
  labels[1] = (hi >>> 16) & 0xff;
  labels[2] = (hi >>> 8) & 0xff;
  labels[3] = hi & 0xff;
  labels[4] = lo >>> 24;
  labels[5] = (lo >>> 16) & 0xff;
  labels[6] = (lo >>> 8) & 0xff;
  labels[7] = lo & 0xff;
  labels[8] = serial >>> 24;
  labels[9] = (serial >>> 16) & 0xff;
  labels[10] = (serial >>> 8) & 0xff;
  labels[11] = serial & 0xff;
  return labels;
}

/** The session id in an entry's labels, or undefined when the labels hold none. */
export function idOfLabels(labels: Uint8Array | undefined): bigint | undefined {
  if (labels === undefined || labels.length < 8) return undefined;
  const id = Buffer.from(labels.buffer, labels.byteOffset, 8).readBigUInt64BE(0);
  return id === 0n ? undefined : id;
}

/** The entry serial number in an entry's labels (0 when the labels hold none). */
export function serialOfLabels(labels: Uint8Array | undefined): number {
  if (labels === undefined || labels.length < 12) return 0;
  return Buffer.from(labels.buffer, labels.byteOffset, 12).readUInt32BE(8);
}
