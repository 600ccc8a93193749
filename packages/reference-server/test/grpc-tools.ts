// Generic gRPC tooling for tests: a health client from grpc-health-check's
// schema, and a server-reflection client that knows nothing of sessions.v1
// and builds its calls from the descriptors the server sends.
import {
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import protobuf from "protobufjs";
import * as descriptor from "protobufjs/ext/descriptor";

type Callback<T> = (err: ServiceError | null, value?: T) => void;
type UnaryMethod<Req, Res> = (request: Req, callback: Callback<Res>) => void;

/** Asks the standard health service for `service`'s status ("SERVING", "NOT_SERVING", ...). */
export async function checkHealth(address: string, creds: ChannelCredentials, service: string): Promise<string> {
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
  const client = new Health(address, creds) as unknown as Client & {
    check: UnaryMethod<{ service: string }, { status: string }>;
  };
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service }, (err, res) => (err ? reject(err) : resolve(res?.status ?? ""))),
    );
  } finally {
    client.close();
  }
}

/** Opens a health Watch on `service`; `statuses` fills as updates arrive, `ended` says how the stream ended. */
export function watchHealth(
  address: string,
  creds: ChannelCredentials,
  service: string,
): { statuses: string[]; ended: Promise<string>; close(): void } {
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
  const client = new Health(address, creds) as unknown as Client & {
    watch(request: { service: string }): NodeJS.ReadableStream & { cancel(): void };
  };
  const statuses: string[] = [];
  const stream = client.watch({ service });
  const ended = new Promise<string>((resolve) => {
    stream.on("data", (res: { status: string }) => statuses.push(res.status));
    stream.on("end", () => resolve("end"));
    stream.on("error", (err: ServiceError) => resolve(`error ${err.code}`));
  });
  return { statuses, ended, close: () => client.close() };
}

interface ReflectionRequest {
  readonly listServices?: string;
  readonly fileContainingSymbol?: string;
}

interface ReflectionResponse {
  services: string[];
  files: Uint8Array[];
  error?: string;
}

// grpc.reflection.v1.ServerReflectionRequest: host = 1, file_containing_symbol = 4, list_services = 7.
function encodeRequest(req: ReflectionRequest): Buffer {
  const w = new BinaryWriter();
  if (req.fileContainingSymbol !== undefined) w.tag(4, 2).string(req.fileContainingSymbol);
  if (req.listServices !== undefined) w.tag(7, 2).string(req.listServices);
  return Buffer.from(w.finish());
}

// ServerReflectionResponse: file_descriptor_response = 4 { repeated bytes file_descriptor_proto = 1 },
// list_services_response = 6 { repeated ServiceResponse service = 1 { string name = 1 } }, error_response = 7.
function decodeResponse(bytes: Buffer): ReflectionResponse {
  const out: ReflectionResponse = { services: [], files: [] };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 4 || field === 6 || field === 7) {
      const inner = new BinaryReader(r.bytes());
      while (inner.pos < inner.len) {
        const [f, w] = inner.tag();
        if (field === 4 && f === 1) out.files.push(inner.bytes());
        else if (field === 6 && f === 1) {
          const svc = new BinaryReader(inner.bytes());
          while (svc.pos < svc.len) {
            const [sf, sw] = svc.tag();
            if (sf === 1) out.services.push(svc.string());
            else svc.skip(sw);
          }
        } else if (field === 7 && f === 2) out.error = inner.string();
        else inner.skip(w);
      }
    } else r.skip(wt);
  }
  return out;
}

const identity = (b: Buffer) => b;

/** One request on the v1 (or v1alpha) ServerReflectionInfo stream. */
export async function reflect(
  address: string,
  creds: ChannelCredentials,
  req: ReflectionRequest,
  version: "v1" | "v1alpha" = "v1",
): Promise<ReflectionResponse> {
  const path = `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`;
  const Reflection = makeGenericClientConstructor(
    {
      info: {
        path,
        requestStream: true,
        responseStream: true,
        requestSerialize: encodeRequest,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: decodeResponse,
      },
    },
    "ServerReflection",
  );
  const client = new Reflection(address, creds);
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const stream = client.makeBidiStreamRequest(path, encodeRequest, decodeResponse);
      stream.on("data", (res: ReflectionResponse) => {
        resolve(res);
        stream.end();
      });
      stream.on("error", reject);
      stream.write(req);
    });
  } finally {
    client.close();
  }
}

/** Builds protobufjs types from reflected FileDescriptorProtos. */
export function rootFromFiles(files: readonly Uint8Array[]): protobuf.Root {
  const set = descriptor.FileDescriptorSet.fromObject({
    file: files.map((f) => descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(f))),
  });
  return (protobuf.Root as unknown as { fromDescriptor(set: protobuf.Message): protobuf.Root }).fromDescriptor(set);
}

/** Calls a unary method by its full name with types looked up in `root` (a dynamic client, like grpcurl). */
export async function dynamicUnary(
  address: string,
  creds: ChannelCredentials,
  root: protobuf.Root,
  method: string,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const [serviceName, methodName] = [
    method.slice(0, method.lastIndexOf(".")),
    method.slice(method.lastIndexOf(".") + 1),
  ];
  const svc = root.lookupService(serviceName);
  const m = svc.methods[methodName];
  if (m === undefined) throw new Error(`no method ${method}`);
  const reqType = root.lookupType(m.requestType);
  const resType = root.lookupType(m.responseType);
  const Ctor = makeGenericClientConstructor({}, serviceName);
  const client = new Ctor(address, creds);
  try {
    return await new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        `/${serviceName}/${methodName}`,
        (r: Record<string, unknown>) => Buffer.from(reqType.encode(reqType.fromObject(r)).finish()),
        (b: Buffer) => resType.toObject(resType.decode(b), { longs: String, enums: String, defaults: true }),
        request,
        (err: ServiceError | null, res?: Record<string, unknown>) => (err ? reject(err) : resolve(res ?? {})),
      ),
    );
  } finally {
    client.close();
  }
}
