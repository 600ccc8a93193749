// Characters that travel as they are: printable ASCII except '%'.
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * Percent-encodes a `grpc-message` value as PROTOCOL-HTTP2 says: printable
 * ASCII (0x20-0x7E) except '%' is sent as is, every other character as the
 * %XX escapes of its UTF-8 bytes (uppercase hex).
 */
export function encodeGrpcMessage(details: string): string {
  if (PLAIN.test(details)) return details;
  let out = "";
  for (const byte of Buffer.from(details, "utf8")) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
