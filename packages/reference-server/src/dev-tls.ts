import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { createCertificateAuthority, issueCertificate, type CertificateAndKey } from "./certificates";

/** Where the development CA and server certificate live, unless told otherwise. */
export const DEFAULT_DEV_TLS_DIR = ".offload/tls";

/** Host names and IP addresses a server certificate names (its subject alternative names). */
export interface CertificateNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** Host names and addresses the development server certificate always covers. */
export const DEV_SERVER_NAMES: CertificateNames = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };

/** The development TLS folder cannot be created or written: one line naming it and why. */
export class DevTlsError extends Error {
  override readonly name = "DevTlsError";
}

/** The files of a development TLS folder. */
export interface DevTlsFiles {
  /** The folder (absolute). */
  readonly dir: string;
  /** The CA certificate that clients must trust. */
  readonly caCertPath: string;
  /** The CA's private key (mode 0600). */
  readonly caKeyPath: string;
  /** The server certificate, for localhost, 127.0.0.1, ::1 and the names asked for. */
  readonly certPath: string;
  /** The server's private key (mode 0600). */
  readonly keyPath: string;
  /** Which files this call made: "ca" (and so the server certificate), "server", or "none" (all reused). */
  readonly created: "ca" | "server" | "none";
  /** The names the server certificate covers. */
  readonly names: CertificateNames;
}

/** Options of `ensureDevTls`. */
export interface DevTlsOptions {
  /** The folder; default `$OFFLOAD_TLS_DIR` (when set and not empty), else `./.offload/tls` under `cwd`. */
  readonly dir?: string;
  /** Base of a relative `dir`; default `process.cwd()`. */
  readonly cwd?: string;
  /** Environment to read OFFLOAD_TLS_DIR from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The current time (validity checks, new certificates); default `() => new Date()`. */
  readonly now?: () => Date;
  /**
   * Names the server certificate must cover besides `DEV_SERVER_NAMES` (the
   * server's `--host` and the machine's name). A certificate that lacks one is
   * issued again, covering its old names too (so that two servers with
   * different hosts sharing the folder do not take turns replacing it).
   */
  readonly names?: CertificateNames;
}

// Writes a file atomically with the given mode (the mode is set before the contents appear).
function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function readPair(certPath: string, keyPath: string): CertificateAndKey | undefined {
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  return { certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") };
}

// True when `pem` is valid for at least another day and, for the server, signed by `ca` and covering `names`.
function usable(pem: string, now: Date, ca?: X509Certificate, names?: CertificateNames): boolean {
  try {
    const cert = new X509Certificate(pem);
    const soon = new Date(now.getTime() + 86_400_000);
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < soon) return false;
    if (ca === undefined) return true;
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) && names !== undefined && covers(cert, names);
  } catch {
    return false;
  }
}

/** True when the certificate names every host name and address in `names`. */
export function covers(cert: X509Certificate, names: CertificateNames): boolean {
  return (
    names.dnsNames.every((name) => cert.checkHost(name, { wildcards: false }) !== undefined) &&
    names.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

/** True when the certificate names at least one host name or address in `names`. */
export function coversAny(cert: X509Certificate, names: CertificateNames): boolean {
  return (
    names.dnsNames.some((name) => cert.checkHost(name, { wildcards: true }) !== undefined) ||
    names.ipAddresses.some((ip) => cert.checkIP(ip) !== undefined)
  );
}

/** The names a certificate has in its subject alternative name extension. */
export function certificateNames(cert: X509Certificate): CertificateNames {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (cert.subjectAltName ?? "").split(", ")) {
    if (entry.startsWith("DNS:")) dnsNames.push(entry.slice(4));
    else if (entry.startsWith("IP Address:")) ipAddresses.push(entry.slice(11));
  }
  return { dnsNames, ipAddresses };
}

function union(...lists: ReadonlyArray<readonly string[]>): string[] {
  return [...new Set(lists.flat())];
}

// The same addresses written the same way ("0:0:0:0:0:0:0:1" and "::1" are one), first spelling kept.
function uniqueAddresses(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((ip) => {
    const key = isIP(ip) === 6 ? new URL(`http://[${ip}]`).hostname : ip;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Makes sure a development CA and a server certificate for localhost,
 * 127.0.0.1, ::1 and `options.names` exist in the folder, and answers their
 * paths. Reuses what is there, still valid and covering those names; makes
 * what is missing, expiring or too narrow (a new CA means a new server
 * certificate). The folder is mode 0700, the private keys 0600. Throws
 * `DevTlsError` if the folder cannot be created or written.
 */
export function ensureDevTls(options: DevTlsOptions = {}): DevTlsFiles {
  const env = options.env ?? process.env;
  const dir = resolve(options.cwd ?? process.cwd(), options.dir ?? (env.OFFLOAD_TLS_DIR || DEFAULT_DEV_TLS_DIR));
  try {
    return ensureIn(dir, options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new DevTlsError(`cannot write the development TLS folder ${dir}: ${code}`, { cause: err });
  }
}

function ensureIn(dir: string, options: DevTlsOptions): DevTlsFiles {
  const now = (options.now ?? (() => new Date()))();
  const wanted: CertificateNames = {
    dnsNames: union(DEV_SERVER_NAMES.dnsNames, options.names?.dnsNames ?? []),
    ipAddresses: uniqueAddresses(union(DEV_SERVER_NAMES.ipAddresses, options.names?.ipAddresses ?? [])),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCertPath = join(dir, "ca.crt");
  const caKeyPath = join(dir, "ca.key");
  const certPath = join(dir, "server.crt");
  const keyPath = join(dir, "server.key");
  let created: DevTlsFiles["created"] = "none";

  let ca = readPair(caCertPath, caKeyPath);
  if (ca === undefined || !usable(ca.certPem, now)) {
    ca = createCertificateAuthority({ notBefore: now });
    writeFileAtomic(caKeyPath, ca.keyPem, 0o600);
    writeFileAtomic(caCertPath, ca.certPem, 0o644);
    created = "ca";
  }
  const server = readPair(certPath, keyPath);
  let names = wanted;
  if (
    created === "ca" ||
    server === undefined ||
    !usable(server.certPem, now, new X509Certificate(ca.certPem), wanted)
  ) {
    // Keep the names the old certificate had (another server's --host, say).
    const old = server === undefined ? undefined : oldNames(server.certPem);
    names = {
      dnsNames: union(wanted.dnsNames, old?.dnsNames ?? []),
      ipAddresses: uniqueAddresses(union(wanted.ipAddresses, old?.ipAddresses ?? [])),
    };
    const issued = issueCertificate(ca, { commonName: "localhost", usage: "server", ...names, notBefore: now });
    writeFileAtomic(keyPath, issued.keyPem, 0o600);
    writeFileAtomic(certPath, issued.certPem, 0o644);
    if (created === "none") created = "server";
  } else {
    names = certificateNames(new X509Certificate(server.certPem));
  }
  return { dir, caCertPath, caKeyPath, certPath, keyPath, created, names };
}

function oldNames(pem: string): CertificateNames | undefined {
  try {
    return certificateNames(new X509Certificate(pem));
  } catch {
    return undefined;
  }
}
