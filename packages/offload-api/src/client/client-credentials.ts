import { readFileSync } from "node:fs";
import { credentials as grpcCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import { ValidationError } from "../validation";

/** Plaintext: only for servers started with `--insecure` (or on a trusted host). */
export interface InsecureCredentials {
  readonly insecure: true;
}

/**
 * TLS, optionally mutual. Each PEM comes inline (`ca`, `cert`, `key`) or from
 * a file (`caFile`, `certFile`, `keyFile`); without a CA the system roots are
 * trusted. A client certificate needs its key and vice versa (mutual TLS).
 */
export interface TlsCredentials {
  readonly insecure?: false;
  /** PEM of the CA(s) to trust, e.g. the reference server's dev CA. */
  readonly ca?: string | Buffer;
  /** Path of a PEM file of the CA(s) to trust. */
  readonly caFile?: string;
  /** PEM client certificate chain, for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Path of a PEM client certificate chain, for mutual TLS. */
  readonly certFile?: string;
  /** PEM private key of the client certificate. */
  readonly key?: string | Buffer;
  /** Path of the PEM private key of the client certificate. */
  readonly keyFile?: string;
}

/** How the client authenticates the servers (and itself): TLS by default, plaintext only when asked for. */
export type ClientCredentialsOptions = InsecureCredentials | TlsCredentials;

function pem(field: string, inline: string | Buffer | undefined, file: string | undefined): Buffer | undefined {
  if (inline !== undefined && file !== undefined) {
    throw new ValidationError(`credentials.${field}`, `give ${field} or ${field}File, not both`);
  }
  if (inline !== undefined) return Buffer.from(inline);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ValidationError(`credentials.${field}File`, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Builds grpc-js channel credentials. Throws `ValidationError` naming the
 * field for an unreadable file, both inline and file forms, or a certificate
 * without its key (or a key without its certificate).
 */
export function createChannelCredentials(options: ClientCredentialsOptions = {}): ChannelCredentials {
  if (options.insecure === true) return grpcCredentials.createInsecure();
  const ca = pem("ca", options.ca, options.caFile);
  const cert = pem("cert", options.cert, options.certFile);
  const key = pem("key", options.key, options.keyFile);
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "cert" : "key";
    throw new ValidationError(`credentials.${missing}`, "mutual TLS needs both a client certificate and its key");
  }
  return grpcCredentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}
