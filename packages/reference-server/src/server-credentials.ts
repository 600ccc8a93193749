import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createInsecureCredentials,
  createTlsCredentials,
  type OffloadCredentials,
} from "@sessionoffload/server-transport";
import { ensureDevTls, type DevTlsOptions } from "./dev-tls";

/** How the reference server secures its ports. */
export type TlsConfig =
  /** Plaintext: only when asked for explicitly (`--insecure`). */
  | { readonly mode: "insecure" }
  /** TLS with the development CA's server certificate, made on first start (see `ensureDevTls`). */
  | { readonly mode: "dev"; readonly dev?: DevTlsOptions; readonly clientCaPath?: string }
  /** TLS with a given certificate chain and key. */
  | { readonly mode: "files"; readonly certPath: string; readonly keyPath: string; readonly clientCaPath?: string };

/** Server credentials and, for the development CA, the certificate clients must trust. */
export interface BuiltCredentials {
  /** Credentials for every port. */
  readonly credentials: OffloadCredentials;
  /** The CA clients must trust (dev mode only). */
  readonly caCertPath?: string;
  /** True when clients must present a certificate signed by the client CA. */
  readonly mutualTls: boolean;
  /** The server's own certificate (the first of its chain), when it serves TLS and it parses. */
  readonly serverCertificate?: X509Certificate;
}

/** A TLS file that cannot be read: `flag` names the command-line flag that gave it. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
  constructor(
    readonly flag: string,
    readonly path: string,
    reason: string,
  ) {
    super(`${flag}: cannot read ${path}: ${reason}`);
  }
}

function readPem(flag: string, path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new TlsFileError(flag, path, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  if (!data.toString("latin1").includes("-----BEGIN ")) throw new TlsFileError(flag, path, "not a PEM file");
  return data;
}

function parseLeaf(chain: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(chain);
  } catch {
    return undefined;
  }
}

/**
 * Builds the server credentials for a TLS configuration. With a client CA,
 * clients must present a certificate it signed (mutual TLS). Throws
 * `TlsFileError` for a file that is missing or not PEM; Node's TLS throws for a
 * key that does not match its certificate.
 */
export function buildServerCredentials(config: TlsConfig): BuiltCredentials {
  if (config.mode === "insecure") return { credentials: createInsecureCredentials(), mutualTls: false };
  const clientCa = config.clientCaPath === undefined ? null : readPem("--tls-client-ca", config.clientCaPath);
  let cert: Buffer;
  let key: Buffer;
  let caCertPath: string | undefined;
  if (config.mode === "dev") {
    const dev = ensureDevTls(config.dev);
    cert = readFileSync(dev.certPath);
    key = readFileSync(dev.keyPath);
    caCertPath = dev.caCertPath;
  } else {
    cert = readPem("--tls-cert", config.certPath);
    key = readPem("--tls-key", config.keyPath);
  }
  const credentials = createTlsCredentials({
    key,
    cert,
    ca: clientCa ?? undefined,
    requireClientCert: clientCa !== null,
  });
  return { credentials, caCertPath, mutualTls: clientCa !== null, serverCertificate: parseLeaf(cert) };
}
