import type {
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  MethodDefinition,
} from "@grpc/grpc-js";
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
  /** Optional: decodes the request message at `buffer[start, end)` without a view of it (see `NativeRouteOptions`). */
  readonly decodeRange?: (buffer: Uint8Array, start: number, end: number) => unknown;
  /** Encodes one response message (unframed); throws when the value cannot be encoded. */
  readonly serialize: (value: unknown) => Uint8Array;
}

/** Options of `createNativeRoute`. */
export interface NativeRouteOptions<Req> {
  /**
   * Decodes the request message at `buffer[start, end)` as the definition's
   * `requestDeserialize` decodes `buffer.subarray(start, end)` (same values,
   * same errors), without making that view: client-streaming calls decode
   * each message with it (a view per message costs as much as a small
   * decode). Other calls use `requestDeserialize`.
   */
  readonly decodeRange?: (buffer: Uint8Array, start: number, end: number) => Req;
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

/** A client-streaming method served by the native transport. */
export interface NativeClientStreamRoute extends NativeRouteCommon {
  readonly kind: "clientStream";
  readonly handler: handleClientStreamingCall<unknown, unknown>;
}

/** A method the native transport serves itself instead of forwarding it to grpc-js; made by `createNativeRoute`. */
export type NativeRoute = NativeUnaryRoute | NativeServerStreamRoute | NativeClientStreamRoute;

/** The handler of a method that `createNativeRoute` takes, by the method's stream flags. */
export type NativeRouteHandler<Req, Res> =
  handleUnaryCall<Req, Res> | handleServerStreamingCall<Req, Res> | handleClientStreamingCall<Req, Res>;

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
 * Describes a unary, server-streaming or client-streaming method for the native transport, from its
 * grpc-js method definition (path, request decoding) and the same handler
 * that is registered with grpc-js. `responseType` (a ts-proto message type)
 * lets responses be encoded through a reused writer; without it the
 * definition's `responseSerialize` is used. The handler is given a call
 * object that offers what grpc-js's offers for its kind except events on
 * unary calls (see `OffloadServerOptions.nativeRoutes`); a client-streaming
 * handler gets a `NativeReadableCall` and the callback. `options.decodeRange`
 * lets a client-streaming call decode each message in place.
 * Throws a TypeError for a bidirectional method.
 */
export function createNativeRoute<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  handler: handleUnaryCall<Req, Res>,
  responseType?: MessageEncoder<Res>,
  options?: NativeRouteOptions<Req>,
): NativeRoute;
/** A server-streaming method (see the first signature). */
export function createNativeRoute<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  handler: handleServerStreamingCall<Req, Res>,
  responseType?: MessageEncoder<Res>,
  options?: NativeRouteOptions<Req>,
): NativeRoute;
/** A client-streaming method (see the first signature). */
export function createNativeRoute<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  handler: handleClientStreamingCall<Req, Res>,
  responseType?: MessageEncoder<Res>,
  options?: NativeRouteOptions<Req>,
): NativeRoute;
export function createNativeRoute<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  handler: NativeRouteHandler<Req, Res>,
  responseType?: MessageEncoder<Res>,
  options: NativeRouteOptions<Req> = {},
): NativeRoute {
  if (definition.requestStream && definition.responseStream) {
    throw new TypeError(
      `${definition.path}: only unary, server-streaming and client-streaming methods can be native routes`,
    );
  }
  const decode = definition.requestDeserialize as (bytes: Buffer) => unknown;
  const serialize = (responseType ? writerSerializer(responseType) : definition.responseSerialize) as (
    value: unknown,
  ) => Uint8Array;
  // The one place where the typed handler is stored untyped: the route only ever
  // hands it requests made by `decode` and serializes its answers with `serialize`.
  if (definition.requestStream) {
    return {
      kind: "clientStream",
      path: definition.path,
      decode,
      ...(options.decodeRange === undefined ? {} : { decodeRange: options.decodeRange }),
      serialize,
      handler: handler as handleClientStreamingCall<unknown, unknown>,
    };
  }
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
