import type { handleServerStreamingCall, handleUnaryCall, MethodDefinition } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** A message type that can encode into a caller's writer: a ts-proto `MessageFns` such as `sessionsV1.sessionResponse`. */
export interface MessageEncoder<T> {
  /** Appends `message` to `writer` and returns it. */
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

interface NativeRouteCommon {
  /** The gRPC path, e.g. "/sessions.v1.SessionTable/addSession". */
  readonly path: string;
  /** Decodes one request message; throws on malformed bytes. */
  readonly decode: (bytes: Buffer) => unknown;
  /** Encodes one response message (unframed); throws when the value cannot be encoded. */
  readonly serialize: (value: unknown) => Uint8Array;
}

/** A unary method served by the native transport. */
export interface NativeUnaryRoute extends NativeRouteCommon {
  readonly kind: "unary";
  readonly handler: handleUnaryCall<unknown, unknown>;
}

/** A server-streaming method served by the native transport. */
export interface NativeServerStreamRoute extends NativeRouteCommon {
  readonly kind: "serverStream";
  readonly handler: handleServerStreamingCall<unknown, unknown>;
}

/** A method the native transport serves itself instead of forwarding it to grpc-js; made by `createNativeRoute`. */
export type NativeRoute = NativeUnaryRoute | NativeServerStreamRoute;

// Encodes through one writer kept across calls (its buffer grows once); a
// failed encode may leave the writer half-written, so it is then replaced.
function writerSerializer<T>(type: MessageEncoder<T>): (value: T) => Uint8Array {
  let writer = new BinaryWriter();
  return (value) => {
    try {
      return type.encode(value, writer).finish();
    } catch (err) {
      writer = new BinaryWriter();
      throw err;
    }
  };
}

/**
 * Describes a unary or server-streaming method for the native transport, from its
 * grpc-js method definition (path, request decoding) and the same handler
 * that is registered with grpc-js. `responseType` (a ts-proto message type)
 * lets responses be encoded through a reused writer; without it the
 * definition's `responseSerialize` is used. The handler is given a call
 * object that offers what grpc-js's offers for its kind except events on
 * unary calls (see `OffloadServerOptions.nativeRoutes`).
 * Throws a TypeError for a client-streaming or bidirectional method.
 */
export function createNativeRoute<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  handler: handleUnaryCall<Req, Res> | handleServerStreamingCall<Req, Res>,
  responseType?: MessageEncoder<Res>,
): NativeRoute {
  if (definition.requestStream) {
    throw new TypeError(`${definition.path}: only unary and server-streaming methods can be native routes`);
  }
  const decode = definition.requestDeserialize as (bytes: Buffer) => unknown;
  const serialize = (responseType ? writerSerializer(responseType) : definition.responseSerialize) as (
    value: unknown,
  ) => Uint8Array;
  // The one place where the typed handler is stored untyped: the route only ever
  // hands it requests made by `decode` and serializes its answers with `serialize`.
  return definition.responseStream
    ? {
        kind: "serverStream",
        path: definition.path,
        decode,
        serialize,
        handler: handler as handleServerStreamingCall<unknown, unknown>,
      }
    : {
        kind: "unary",
        path: definition.path,
        decode,
        serialize,
        handler: handler as handleUnaryCall<unknown, unknown>,
      };
}
