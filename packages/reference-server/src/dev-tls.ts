import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createCertificateAuthority, issueCertificate, type CertificateAndKey } from "./certificates";

/** Where the development CA and server certificate live, unless told otherwise. */
export const DEFAULT_DEV_TLS_DIR = ".offload/tls";

/** Host names and addresses the development server certificate covers. */
export const DEV_SERVER_NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] } as const;

/** The files of a development TLS folder. */
export interface DevTlsFiles {
  /** The folder (absolute). */
  readonly dir: string;
  /** The CA certificate that clients must trust. */
  readonly caCertPath: string;
  /** The CA's private key (mode 0600). */
  readonly caKeyPath: string;
  /** The server certificate, for localhost, 127.0.0.1 and ::1. */
  readonly certPath: string;
  /** The server's private key (mode 0600). */
  readonly keyPath: string;
  /** Which files this call made: "ca" (and so the server certificate), "server", or "none" (all reused). */
  readonly created: "ca" | "server" | "none";
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

// True when `pem` is valid for at least another day and, for the server, signed by `ca`.
function usable(pem: string, now: Date, ca?: X509Certificate): boolean {
  try {
    const cert = new X509Certificate(pem);
    const soon = new Date(now.getTime() + 86_400_000);
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < soon) return false;
    if (ca === undefined) return true;
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) && cert.checkIP("127.0.0.1") !== undefined;
  } catch {
    return false;
  }
}

/**
 * Makes sure a development CA and a server certificate for localhost,
 * 127.0.0.1 and ::1 exist in the folder, and answers their paths. Reuses
 * what is there and still valid; makes what is missing or expiring (a new CA
 * means a new server certificate). The folder is mode 0700, the private keys
 * 0600. Throws if the folder cannot be created or written.
 */
export function ensureDevTls(options: DevTlsOptions = {}): DevTlsFiles {
  const env = options.env ?? process.env;
  const now = (options.now ?? (() => new Date()))();
  const dir = resolve(options.cwd ?? process.cwd(), options.dir ?? (env.OFFLOAD_TLS_DIR || DEFAULT_DEV_TLS_DIR));
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
  if (created === "ca" || server === undefined || !usable(server.certPem, now, new X509Certificate(ca.certPem))) {
    const issued = issueCertificate(ca, {
      commonName: "localhost",
      usage: "server",
      ...DEV_SERVER_NAMES,
      notBefore: now,
    });
    writeFileAtomic(keyPath, issued.keyPem, 0o600);
    writeFileAtomic(certPath, issued.certPem, 0o644);
    if (created === "none") created = "server";
  }
  return { dir, caCertPath, caKeyPath, certPath, keyPath, created };
}
