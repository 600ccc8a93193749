import { existsSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import {
  AddressError,
  parseAddress,
  UINT64_MAX,
  type ClientCredentialsOptions,
  type OffloadClientOptions,
} from "@sessionoffload/offload-api";
import { CtlUsageError } from "./exit-codes";

/** The global options of offloadctl, as commander parsed them. */
export interface GlobalOptions {
  readonly sessions: string;
  readonly stats: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecure?: boolean;
  readonly serverName?: string;
  /** Milliseconds. */
  readonly timeout: number;
  /** Whether --timeout was given (streams get a deadline only then). */
  readonly timeoutGiven?: boolean;
}

/** host:port (a name, an IPv4 address, or an IPv6 address in brackets) with a port in 1..65535. */
export function hostPort(value: string): string {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new InvalidArgumentError("expected HOST:PORT, e.g. localhost:3443");
  return value;
}

/** An address and port, "192.0.2.1:40000" or "[2001:db8::1]:443", as the typed client takes them. */
export function ipPort(value: string): { ip: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const ip = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || ip === undefined)
    throw new InvalidArgumentError("expected IP:PORT, e.g. 192.0.2.1:40000 or [2001:db8::1]:443");
  try {
    parseAddress(ip);
  } catch (err) {
    if (err instanceof AddressError) throw new InvalidArgumentError(err.message);
    throw err;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError(`port ${match[3]} is outside 1..65535`);
  return { ip, port };
}

/** An address literal (the next hop). */
export function ipAddress(value: string): string {
  try {
    parseAddress(value);
  } catch (err) {
    if (err instanceof AddressError) throw new InvalidArgumentError(err.message);
    throw err;
  }
  return value;
}

/** A session id: a decimal integer in 1..2^64-1. */
export function sessionId(value: string): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) < 1n || BigInt(value) > UINT64_MAX) {
    throw new InvalidArgumentError(`expected a session id, a decimal integer in 1..${UINT64_MAX}`);
  }
  return BigInt(value);
}

/** A whole number in min..max. */
export function integerIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    }
    return n;
  };
}

/** Seconds (fractions allowed) in 0.05..86400, as milliseconds. */
export function seconds(value: string): number {
  const s = Number(value);
  if (value.trim() === "" || !Number.isFinite(s) || s < 0.05 || s > 86_400) {
    throw new InvalidArgumentError("must be a number of seconds in 0.05..86400");
  }
  return Math.round(s * 1000);
}

/**
 * The development CA the reference server makes, when it is there:
 * `$OFFLOAD_TLS_DIR/ca.crt`, else `./.offload/tls/ca.crt`.
 */
export function defaultCaFile(env: Readonly<Record<string, string | undefined>>, cwd: string): string | undefined {
  const path = join(env.OFFLOAD_TLS_DIR || join(cwd, ".offload", "tls"), "ca.crt");
  return existsSync(path) ? path : undefined;
}

/**
 * The typed client's options from the global flags: plaintext with
 * `--insecure`; otherwise TLS trusting `--ca` (default: the reference
 * server's development CA when it is there, else the system's roots), with
 * `--cert`/`--key` for mutual TLS. Throws `CtlUsageError` for flags that
 * contradict each other.
 */
export function clientOptions(
  o: GlobalOptions,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): OffloadClientOptions {
  let credentials: ClientCredentialsOptions;
  if (o.insecure) {
    const clash = [o.ca && "--ca", o.cert && "--cert", o.key && "--key", o.serverName && "--server-name"].filter(
      Boolean,
    );
    if (clash.length > 0) throw new CtlUsageError(`--insecure cannot be combined with ${clash.join(", ")}`);
    credentials = { insecure: true };
  } else {
    if ((o.cert === undefined) !== (o.key === undefined)) {
      throw new CtlUsageError(o.cert === undefined ? "--key needs --cert" : "--cert needs --key");
    }
    const caFile = o.ca ?? defaultCaFile(env, cwd);
    credentials = {
      ...(caFile === undefined ? {} : { caFile }),
      ...(o.cert === undefined ? {} : { certFile: o.cert }),
      ...(o.key === undefined ? {} : { keyFile: o.key }),
    };
  }
  return {
    sessionsAddress: o.sessions,
    statsAddress: o.stats,
    credentials,
    serverName: o.serverName,
    defaultTimeoutMs: o.timeout,
  };
}
