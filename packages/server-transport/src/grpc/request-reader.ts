import type { CallStream } from "./call-context";
import { status } from "@grpc/grpc-js";
import { createFrameDecoder, MessageTooLargeError } from "./frame-decoder";
import { messageOf, type GrpcStatus } from "./grpc-status";

/** Where `readSingleRequest` reports: the one request, or the status that ends the call. */
export interface SingleRequestSink<T> {
  /** The decoded request, once the client half-closed after exactly one message. */
  onRequest(request: T): void;
  /** The request broke the protocol or a limit; the call must end with this status. */
  onReject(status: GrpcStatus): void;
}

/**
 * Reads the request of a unary or server-streaming call from `stream`: length-
 * prefixed messages reassembled across DATA frames. Exactly one uncompressed
 * message, then end of stream, gives `onRequest`; otherwise `onReject` with:
 * RESOURCE_EXHAUSTED past `maxLength` (checked on the prefix), UNIMPLEMENTED
 * for none or a second message (as grpc-js), INTERNAL for a compressed message
 * (the native transport only takes identity-encoded calls), a stream that ends
 * inside a message, or a message that `decode` throws on. Each callback fires
 * at most once, and only one of them.
 */
export function readSingleRequest<T>(
  stream: CallStream,
  path: string,
  maxLength: number,
  decode: (bytes: Buffer) => T,
  sink: SingleRequestSink<T>,
): void {
  const decoder = createFrameDecoder(maxLength);
  let message: Buffer | undefined;
  let settled = false;

  const reject = (code: status, details: string): void => {
    if (settled) return;
    settled = true;
    sink.onReject({ code, details });
  };
  const onMessage = (compressed: boolean, buffer: Buffer, start: number, end: number): void => {
    if (settled) return;
    if (message !== undefined) {
      reject(status.UNIMPLEMENTED, `Received a second request message for method ${path}`);
    } else if (compressed) {
      reject(status.INTERNAL, "Received a compressed message on a call with grpc-encoding identity");
    } else {
      message = buffer.subarray(start, end);
    }
  };

  stream.on("data", (chunk: Buffer) => {
    if (settled) return;
    try {
      decoder.push(chunk, onMessage);
    } catch (err) {
      if (err instanceof MessageTooLargeError) reject(status.RESOURCE_EXHAUSTED, err.message);
      else throw err;
    }
  });
  stream.on("end", () => {
    if (settled) return;
    if (decoder.pendingBytes > 0) {
      reject(status.INTERNAL, `Request ended inside a message (${decoder.pendingBytes} bytes held)`);
    } else if (message === undefined) {
      reject(status.UNIMPLEMENTED, `Received no request message for method ${path}`);
    } else {
      let request: T;
      try {
        request = decode(message);
      } catch (err) {
        reject(status.INTERNAL, `Error deserializing request: ${messageOf(err)}`);
        return;
      }
      settled = true;
      sink.onRequest(request);
    }
  });
}
