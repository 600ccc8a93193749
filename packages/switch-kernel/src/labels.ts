/**
 * The conntrack labels (128 bits) of a session's entry: its id, big-endian, in
 * the first 8 bytes (for diagnostics with `conntrack -L -o labels` and for a
 * future recovery of sessions after a restart), then two u32 (big-endian) of the
 * running switch: the entry's serial number (tells a listed entry from an
 * earlier one whose session was deleted) and its slot (where the switch finds
 * the session of a listed entry without a lookup by id).
 */
export function sessionLabels(id: bigint, serial = 0, slot = 0): Uint8Array {
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
  labels[12] = slot >>> 24;
  labels[13] = (slot >>> 16) & 0xff;
  labels[14] = (slot >>> 8) & 0xff;
  labels[15] = slot & 0xff;
  return labels;
}

/** The session id in an entry's labels, or undefined when the labels hold none. */
export function idOfLabels(labels: Uint8Array | undefined): bigint | undefined {
  if (labels === undefined || labels.length < 8) return undefined;
  const id = Buffer.from(labels.buffer, labels.byteOffset, 8).readBigUInt64BE(0);
  return id === 0n ? undefined : id;
}

/** The entry serial number and slot in an entry's labels (0 when the labels hold none). */
export function serialAndSlotOfLabels(labels: Uint8Array | undefined): { serial: number; slot: number } {
  if (labels === undefined || labels.length < 16) return { serial: 0, slot: 0 };
  const b = Buffer.from(labels.buffer, labels.byteOffset, 16);
  return { serial: b.readUInt32BE(8), slot: b.readUInt32BE(12) };
}
