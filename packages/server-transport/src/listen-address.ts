/** A TCP listening address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "host:port" or "[ipv6]:port" (port 0..65535, 0 = any free port), as
 * given to `OffloadServer.listen`; throws a RangeError naming the address.
 */
export function parseHostPort(address: string): HostPort {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new RangeError(`listen address "${address}": want host:port or [ipv6]:port with a port in 0..65535`);
  }
  return { host: match[1] as string, port };
}
