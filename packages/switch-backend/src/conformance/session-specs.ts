import type { SessionSpec } from "@sessionoffload/offload-api";

/**
 * A valid TCP/IPv4 spec whose 7-tuple is unique for each `n` in 0..2^32-1
 * (the number is spread over the source address and port), with `overrides`
 * applied on top. Used by the conformance suite; handy in vendors' own tests.
 */
export function conformanceSpec(n: number, overrides: Partial<SessionSpec> = {}): SessionSpec {
  return {
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(10, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff),
    sourcePort: 1024 + ((n >>> 24) & 0xff),
    destinationIp: Uint8Array.of(192, 0, 2, 1),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
    ...overrides,
  };
}
