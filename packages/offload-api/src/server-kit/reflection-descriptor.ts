import { SESSIONS_V1_FILE_DESCRIPTORS } from "./sessions-descriptor";

/** Fully qualified name of the SessionTable service. */
export const SESSION_TABLE_SERVICE_NAME = "sessions.v1.SessionTable";
/** Fully qualified name of the SessionStatisticsTable service. */
export const SESSION_STATISTICS_SERVICE_NAME = "sessions.v1.SessionStatisticsTable";

/**
 * A proto-loader style package definition that carries only what
 * `@grpc/reflection`'s `ReflectionService` reads: the serialized
 * FileDescriptorProtos of `sessions/v1/sessions.proto` and its import
 * `google/protobuf/timestamp.proto`.
 */
export interface ReflectionPackageDefinition {
  readonly [name: string]: {
    readonly format: "Protocol Buffer 3 DescriptorProto";
    readonly type: object;
    readonly fileDescriptorProtos: Buffer[];
  };
}

/**
 * Builds the package definition for `new ReflectionService(def, { services })`,
 * from the descriptors embedded at generation time (no .proto file is read at
 * run time, so the servers ship nothing beyond their `dist`).
 */
export function createReflectionPackageDefinition(): ReflectionPackageDefinition {
  const fileDescriptorProtos = SESSIONS_V1_FILE_DESCRIPTORS.map((b64) => Buffer.from(b64, "base64"));
  return { "sessions.v1": { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos } };
}
