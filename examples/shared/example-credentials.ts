import { join } from "node:path";
import type { ClientCredentialsOptions } from "@sessionoffload/offload-api";

/**
 * The examples' `--ca FILE` / `--insecure` flags as client credentials:
 * plaintext with `--insecure`, else TLS trusting `--ca`, or the reference
 * server's development CA (`$OFFLOAD_TLS_DIR/ca.crt`, default `./.offload/tls/ca.crt`).
 */
export function exampleCredentials(flags: {
  readonly ca?: string;
  readonly insecure?: boolean;
}): ClientCredentialsOptions {
  if (flags.insecure) return { insecure: true };
  return { caFile: flags.ca ?? join(process.env.OFFLOAD_TLS_DIR ?? join(process.cwd(), ".offload", "tls"), "ca.crt") };
}
