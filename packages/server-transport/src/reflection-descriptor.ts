/**
 * A proto-loader style package definition that carries only what
 * `@grpc/reflection`'s `ReflectionService` reads: serialized
 * FileDescriptorProtos, per package.
 */
export interface ReflectionPackageDefinition {
  readonly [name: string]: {
    readonly format: "Protocol Buffer 3 DescriptorProto";
    readonly type: object;
    readonly fileDescriptorProtos: Buffer[];
  };
}

/**
 * Builds the package definition for `new ReflectionService(def, { services })`
 * from descriptors embedded at generation time (base64 FileDescriptorProtos,
 * dependencies first, per proto package), so that no .proto file is read at
 * run time.
 */
export function createReflectionPackageDefinition(
  packages: Readonly<Record<string, readonly string[]>>,
): ReflectionPackageDefinition {
  const definition: Record<string, ReflectionPackageDefinition[string]> = {};
  for (const [name, files] of Object.entries(packages)) {
    definition[name] = {
      format: "Protocol Buffer 3 DescriptorProto",
      type: {},
      fileDescriptorProtos: files.map((b64) => Buffer.from(b64, "base64")),
    };
  }
  return definition;
}
