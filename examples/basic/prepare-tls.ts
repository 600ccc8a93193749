/**
 * Makes (or reuses) the reference server's development CA and server
 * certificate in $OFFLOAD_TLS_DIR before a demo server starts, so that the two
 * server windows, started at the same time under one lock, share one CA.
 */
import { ensureDevTls } from "@sessionoffload/reference-server";

const files = ensureDevTls();
process.stdout.write(`trust ca=${files.caCertPath}\n`);
