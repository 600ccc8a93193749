/**
 * The conntrack labels (128 bits) of a session's entry: its id, big-endian, in
 * the first 8 bytes (for diagnostics with `conntrack -L -o labels` and for a
 * future recovery of sessions after a restart); the rest zero.
 */
export function sessionLabels(id: bigint): Uint8Array {
  const labels = Buffer.alloc(16);
  labels.writeBigUInt64BE(id, 0);
  return labels;
}

/** The session id in an entry's labels, or undefined when the labels hold none. */
export function idOfLabels(labels: Uint8Array | undefined): bigint | undefined {
  if (labels === undefined || labels.length < 8) return undefined;
  const id = Buffer.from(labels.buffer, labels.byteOffset, 8).readBigUInt64BE(0);
  return id === 0n ? undefined : id;
}
