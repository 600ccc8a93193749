/**
 * The reference server as a library, for whoever runs it from code rather
 * than from the `offload-server` command: start it from a configuration
 * (`parseCommandLine` reads one from the command's flags), the backend
 * factory, TLS from files or a development CA, and its logger. The metrics
 * are the `/metrics` subpath. Certificate and host-name helpers stay inside.
 */
export { startReferenceServer, ListenError } from "./reference-server";
export type { RunningReferenceServer, ReferenceServerDeps, Endpoint } from "./reference-server";
export { parseCommandLine, UsageError, SERVICE_NAMES, LOG_LEVELS, LOG_FORMATS } from "./command-line";
export type {
  ReferenceServerConfig,
  MetricsEndpointConfig,
  LogFormat,
  ParsedCommandLine,
  CommandLineIo,
  ServiceName,
  LogLevelName,
} from "./command-line";
export { createBackend, BACKEND_KINDS } from "./backend-factory";
export type { BackendConfig, BackendDeps, BackendKind } from "./backend-factory";
export { buildServerCredentials, TlsFileError } from "./server-credentials";
export type { TlsConfig, BuiltCredentials } from "./server-credentials";
export { ensureDevTls, DEFAULT_DEV_TLS_DIR, DevTlsError } from "./dev-tls";
export type { DevTlsFiles, DevTlsOptions, CertificateNames } from "./dev-tls";
export { createLogger } from "./create-logger";
export type { CreateLoggerOptions } from "./create-logger";
