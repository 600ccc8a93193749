// PROTOCOL-HTTP2: Timeout -> "grpc-timeout" TimeoutValue TimeoutUnit; at most 8 digits.
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * Parses a `grpc-timeout` header value ("100m", "5S", ...) into whole
 * milliseconds, rounded down as grpc-js does. Returns undefined when the value
 * is malformed (the call is then answered INTERNAL).
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = TIMEOUT.exec(value);
  if (match === null) return undefined;
  return Math.floor(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}
