/**
 * Recognises a connection that failed in its TLS handshake for a reason that
 * another attempt cannot fix: a certificate the client does not trust, or
 * that does not name the target; a server that refused the client's
 * certificate; a server that does not speak TLS at all.
 *
 * grpc-js reports every failed connection as UNAVAILABLE and keeps only the
 * text of the socket's error ("No connection established. Last error: Error:
 * unable to verify the first certificate. ..."), so the text is all there is
 * to go by: the patterns below are Node's and OpenSSL's fixed messages for
 * these failures (X509 verification results, ERR_TLS_CERT_ALTNAME_INVALID,
 * TLS alerts, a plaintext answer to a ClientHello).
 */

const NO_CONNECTION = "No connection established. Last error: ";

const TLS_FAILURES: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|Hostname mismatch/,
    "the server's certificate does not name the target",
  ],
  [
    /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate not trusted|invalid CA certificate/,
    "the server's certificate is not signed by a CA the client trusts",
  ],
  [/certificate has expired|certificate is not yet valid/, "the server's certificate is outside its validity period"],
  [
    /certificate signature failure|certificate revoked|unsupported certificate purpose|certificate rejected/,
    "the server's certificate is not acceptable",
  ],
  [
    /alert (certificate required|bad certificate|unknown ca|certificate unknown|certificate expired|access denied)/i,
    "the server refused the client's certificate (mutual TLS)",
  ],
  [
    /wrong version number|packet length too long|unknown protocol|http request/i,
    "the server does not speak TLS (a plaintext server?)",
  ],
];

/** A TLS failure that retrying cannot fix: what it means, and the underlying error's own words. */
export interface TlsFailure {
  /** What went wrong, in a sentence, e.g. "the server's certificate does not name the target". */
  readonly reason: string;
  /** The socket error as grpc-js reported it, e.g. "Error: unable to verify the first certificate". */
  readonly error: string;
}

/** The TLS failure a grpc-js UNAVAILABLE `details` text reports, or undefined for anything else. */
export function tlsFailureOf(details: string): TlsFailure | undefined {
  if (!details.startsWith(NO_CONNECTION)) return undefined;
  const error = (details.slice(NO_CONNECTION.length).split("\n")[0] ?? "")
    .replace(/\.?\s*Resolution note:.*$/, "")
    // OpenSSL's "80FC...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:file:line:"
    .replace(/^(Error: )?[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):.*$/, "$1SSL: $2")
    .trim();
  for (const [pattern, reason] of TLS_FAILURES) if (pattern.test(error)) return { reason, error };
  return undefined;
}
