import ipaddr from "ipaddr.js";
import type { IpVersion } from "./types";

/** Thrown for address text that is not an IPv4 or IPv6 literal. */
export class AddressError extends Error {
  override readonly name = "AddressError";
}

/**
 * Parses an IPv4 (dotted quad) or IPv6 literal into its bytes: 4 for IPv4,
 * 16 for IPv6. IPv4-mapped IPv6 text stays IPv6. Throws `AddressError` for
 * anything else (names, CIDR suffixes, zone ids, short forms such as "10.1").
 */
export function parseAddress(text: string): { version: IpVersion; bytes: Uint8Array } {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { version: "ipv4", bytes: Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (text.includes(":") && !text.includes("%") && ipaddr.IPv6.isValid(text)) {
    return { version: "ipv6", bytes: Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  throw new AddressError(`"${text}" is not an IPv4 or IPv6 address literal`);
}

/** True when `text` is an IPv4 or IPv6 address literal that `parseAddress` accepts. */
export function isAddressLiteral(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Formats 4 or 16 address bytes as canonical text (dotted quad, or RFC 5952
 * compressed IPv6). Throws `AddressError` for any other length.
 */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return ipaddr.fromByteArray(Array.from(bytes)).toString();
  if (bytes.length === 16) return new ipaddr.IPv6(Array.from(bytes)).toRFC5952String();
  throw new AddressError(`an address has 4 or 16 bytes, not ${bytes.length}`);
}
