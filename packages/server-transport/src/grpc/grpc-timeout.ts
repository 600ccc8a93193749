// PROTOCOL-HTTP2: Timeout -> "grpc-timeout" TimeoutValue TimeoutUnit; at most 8 digits.
const MAX_DIGITS = 8;

// Milliseconds per unit, by the unit's character: H, M, S, m, u, n.
function unitMs(unit: number): number | undefined {
  switch (unit) {
    case 0x48: // H
      return 3_600_000;
    case 0x4d: // M
      return 60_000;
    case 0x53: // S
      return 1000;
    case 0x6d: // m
      return 1;
    case 0x75: // u
      return 0.001;
    case 0x6e: // n
      return 0.000001;
    default:
      return undefined;
  }
}

/**
 * Parses a `grpc-timeout` header value ("100m", "5S", ...) into whole
 * milliseconds, rounded down as grpc-js does. Returns undefined when the value
 * is malformed (the call is then answered INTERNAL). Read character by
 * character: it runs for every call that has a deadline.
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const digits = value.length - 1;
  if (digits < 1 || digits > MAX_DIGITS) return undefined;
  let amount = 0;
  for (let i = 0; i < digits; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    amount = amount * 10 + digit;
  }
  const ms = unitMs(value.charCodeAt(digits));
  return ms === undefined ? undefined : Math.floor(amount * ms);
}
