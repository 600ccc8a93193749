export { startReferenceServer, formatHostPort, ListenError } from "./reference-server";
export type { RunningReferenceServer, ReferenceServerDeps, Endpoint } from "./reference-server";
export { parseCommandLine, createProgram, UsageError, SERVICE_NAMES, LOG_LEVELS, LOG_FORMATS } from "./command-line";
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
export {
  ensureDevTls,
  DEFAULT_DEV_TLS_DIR,
  DEV_SERVER_NAMES,
  DevTlsError,
  covers,
  coversAny,
  certificateNames,
} from "./dev-tls";
export type { DevTlsFiles, DevTlsOptions, CertificateNames } from "./dev-tls";
export { namesForHost, HostNameError } from "./host-names";
export type { HostEnvironment } from "./host-names";
export { createCertificateAuthority, issueCertificate } from "./certificates";
export type { CertificateAndKey, AuthorityOptions, IssueOptions } from "./certificates";
export { createLogger } from "./create-logger";
export type { CreateLoggerOptions } from "./create-logger";
