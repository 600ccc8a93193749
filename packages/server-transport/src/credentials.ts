import { ServerCredentials } from "@grpc/grpc-js";
import { createSecureContext, type TlsOptions } from "node:tls";

/** Plaintext (h2c with prior knowledge): made by `createInsecureCredentials`. */
export interface InsecureCredentials {
  readonly kind: "insecure";
}

/** TLS with one key and certificate chain: made by `createTlsCredentials`. */
export interface TlsCredentials {
  readonly kind: "tls";
  /** The private key, PEM. */
  readonly key: Buffer;
  /** The certificate chain, PEM (the server's certificate first). */
  readonly cert: Buffer;
  /** CA certificates that client certificates are checked against, PEM. */
  readonly ca: Buffer | undefined;
  /** Clients must present a certificate signed by `ca` (mutual TLS). */
  readonly requireClientCert: boolean;
}

/**
 * How a server secures its ports, for both transports: made by
 * `createTlsCredentials` or `createInsecureCredentials` (other objects of
 * this shape are refused).
 */
export type OffloadCredentials = InsecureCredentials | TlsCredentials;

/** Options of `createTlsCredentials`. */
export interface TlsCredentialsOptions {
  /** The private key, PEM. */
  readonly key: string | Buffer;
  /** The certificate chain, PEM (the server's certificate first). */
  readonly cert: string | Buffer;
  /** CA certificates that client certificates are checked against, PEM; needed by `requireClientCert`. */
  readonly ca?: string | Buffer;
  /** Refuse clients without a certificate signed by `ca` (mutual TLS); default false. */
  readonly requireClientCert?: boolean;
}

// The credentials this module made: the transports accept only these.
const made = new WeakSet<object>();

const INSECURE: InsecureCredentials = Object.freeze({ kind: "insecure" });
made.add(INSECURE);

/** Plaintext credentials: an explicit choice, never a default. */
export function createInsecureCredentials(): InsecureCredentials {
  return INSECURE;
}

function pem(name: string, value: string | Buffer): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  if (!Buffer.isBuffer(bytes) || !bytes.toString("latin1").includes("-----BEGIN ")) {
    throw new TypeError(`createTlsCredentials: ${name} must be PEM text`);
  }
  return bytes;
}

/**
 * TLS credentials from a PEM key and certificate chain, with `ca` and
 * `requireClientCert` for mutual TLS. Throws a TypeError for a value that is
 * not PEM or `requireClientCert` without `ca`, and Node's TLS error for a key
 * that does not match the certificate.
 */
export function createTlsCredentials(options: TlsCredentialsOptions): TlsCredentials {
  const key = pem("key", options.key);
  const cert = pem("cert", options.cert);
  const ca = options.ca === undefined ? undefined : pem("ca", options.ca);
  const requireClientCert = options.requireClientCert ?? false;
  if (requireClientCert && ca === undefined) {
    throw new TypeError(
      "createTlsCredentials: requireClientCert needs the ca that client certificates are checked against",
    );
  }
  createSecureContext({ key, cert, ca }); // throws now for a key that does not match its certificate
  const credentials: TlsCredentials = Object.freeze({ kind: "tls", key, cert, ca, requireClientCert });
  made.add(credentials);
  return credentials;
}

/** Whether `value` was made by `createTlsCredentials` or `createInsecureCredentials`. */
export function isOffloadCredentials(value: unknown): value is OffloadCredentials {
  return typeof value === "object" && value !== null && made.has(value);
}

/** The Node TLS server options of `credentials` (the native transport); undefined for plaintext. */
export function nativeTlsOptions(credentials: OffloadCredentials): TlsOptions | undefined {
  if (credentials.kind === "insecure") return undefined;
  return {
    key: credentials.key,
    cert: credentials.cert,
    ca: credentials.ca,
    requestCert: credentials.requireClientCert,
    rejectUnauthorized: credentials.requireClientCert,
  };
}

/** The grpc-js `ServerCredentials` of `credentials`, through its public factories (the grpc-js transport). */
export function grpcServerCredentials(credentials: OffloadCredentials): ServerCredentials {
  if (credentials.kind === "insecure") return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    credentials.ca ?? null,
    [{ private_key: credentials.key, cert_chain: credentials.cert }],
    credentials.requireClientCert,
  );
}
