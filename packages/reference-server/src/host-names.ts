import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import os from "node:os";
import type { CertificateNames } from "./dev-tls";

/** `--host` names a host that cannot be resolved: one line saying so. */
export class HostNameError extends Error {
  override readonly name = "HostNameError";
}

/** What `namesForHost` reads from the machine; injectable for tests. */
export interface HostEnvironment {
  /** The machine's name; default `os.hostname()`. */
  readonly hostname?: string;
  /** The machine's addresses; default from `os.networkInterfaces()`. */
  readonly addresses?: readonly string[];
  /** Resolves a name to its addresses; default `dns.lookup(name, { all: true })`. */
  readonly resolve?: (name: string) => Promise<readonly string[]>;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function machineAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.scopeid === undefined)
    .map((i) => (i as os.NetworkInterfaceInfo).address);
}

/**
 * The names a server certificate needs so that clients can reach `host` (the
 * server's `--host`): the address itself and the machine's name; for a
 * wildcard (0.0.0.0, ::) every address of the machine and its name; for a
 * host name, the name, the addresses it resolves to, and the machine's name.
 * Link-local addresses with a zone are left out (a certificate cannot name
 * them). Throws `HostNameError` for a name that does not resolve.
 */
export async function namesForHost(host: string, env: HostEnvironment = {}): Promise<CertificateNames> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const hostname = env.hostname ?? os.hostname();
  const machine = HOST_NAME.test(hostname) ? [hostname] : [];
  if (isIP(bare) !== 0) {
    const wildcard = bare === "0.0.0.0" || bare === "::";
    const ipAddresses = wildcard ? [...(env.addresses ?? machineAddresses())] : [bare];
    return { dnsNames: machine, ipAddresses: ipAddresses.filter((ip) => !ip.includes("%")) };
  }
  const resolveName =
    env.resolve ?? (async (name: string) => (await lookup(name, { all: true })).map((a) => a.address));
  let addresses: readonly string[];
  try {
    addresses = await resolveName(bare);
  } catch (err) {
    throw new HostNameError(`--host: cannot resolve ${bare}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return {
    dnsNames: [...new Set([bare, ...machine])],
    ipAddresses: addresses.filter((ip) => !ip.includes("%")),
  };
}
