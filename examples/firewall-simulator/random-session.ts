import type { SessionInput } from "@sessionoffload/offload-api";

/** A random number in [0, 1). */
export type Random = () => number;

function int(random: Random, from: number, to: number): number {
  return from + Math.floor(random() * (to - from + 1));
}

function ipv4(random: Random, first: number): string {
  return `${first}.${int(random, 0, 255)}.${int(random, 0, 255)}.${int(random, 1, 254)}`;
}

// `prefix` holds the first four groups (a /64); the interface id is random.
function ipv6(random: Random, prefix: string): string {
  const groups = Array.from({ length: 4 }, () => int(random, 0, 0xffff).toString(16));
  return `${prefix}:${groups.join(":")}`;
}

const SERVICES: ReadonlyArray<{ port: number; protocol: "tcp" | "udp" }> = [
  { port: 443, protocol: "tcp" },
  { port: 80, protocol: "tcp" },
  { port: 22, protocol: "tcp" },
  { port: 53, protocol: "udp" },
  { port: 123, protocol: "udp" },
  { port: 4789, protocol: "udp" },
];

/**
 * A random session as a firewall would offload it after inspecting its first
 * packets: IPv4 or IPv6 (half each), a client port 1024..65535, a well-known
 * service, mostly forwarded, some dropped, a few mirrored to an IDS.
 */
export function randomSession(random: Random): SessionInput {
  const v6 = random() < 0.5;
  const service = SERVICES[int(random, 0, SERVICES.length - 1)] ?? { port: 443, protocol: "tcp" };
  const roll = random();
  const action = roll < 0.8 ? "forward" : roll < 0.95 ? "drop" : "mirror";
  return {
    inLif: "inside",
    outLif: "outside",
    sourceIp: v6 ? ipv6(random, "2001:db8:a:1") : ipv4(random, 10),
    sourcePort: int(random, 1024, 65535),
    destinationIp: v6 ? ipv6(random, "2001:db8:b:1") : ipv4(random, 198),
    destinationPort: service.port,
    protocol: service.protocol,
    action,
    nextHop: action === "mirror" ? (v6 ? "2001:db8:ffff::1" : "192.0.2.254") : undefined,
  };
}
