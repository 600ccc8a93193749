import { status } from "@grpc/grpc-js";
import type { GrpcStatus } from "./grpc-status";

const PREFIX = 5;

/**
 * Follows the gRPC length-prefixed message framing of a request as its DATA
 * passes through, without holding any of it, for calls forwarded to grpc-js,
 * which takes a flags byte other than 0 and 1 (PROTOCOL-HTTP2: Compressed-Flag
 * → 0 / 1), and a compressed flag on a call without a grpc-encoding, as an
 * uncompressed message, and a request that ends inside a message as one
 * without a message: each gets the status the native routes answer it with
 * (INTERNAL; RESOURCE_EXHAUSTED for a length over the limit, at its prefix).
 */
export class MessageFramingCheck {
  // Bytes of the current message's prefix seen (0..5), and of its body still to come.
  private prefixSeen = 0;
  private length = 0;
  private bodyLeft = 0;
  private ended = 0;
  private readonly compressionDeclared: boolean;

  /** `encoding`: the request's grpc-encoding header, if any; `maxLength`: the largest message (-1: no limit). */
  constructor(
    encoding: string | string[] | undefined,
    private readonly maxLength: number,
  ) {
    this.compressionDeclared = encoding !== undefined && encoding !== "identity";
  }

  /** Takes the next request bytes; the status to refuse the call with, or undefined while they frame messages. */
  push(chunk: Buffer): GrpcStatus | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - at);
        this.bodyLeft -= take;
        at += take;
        if (this.bodyLeft === 0) this.ended += 1;
        continue;
      }
      const byte = chunk[at++] as number;
      if (this.prefixSeen === 0) {
        if (byte > 1) return internal(`Received a message with an invalid flags byte ${byte}`);
        if (byte === 1 && !this.compressionDeclared) {
          return internal("Received a compressed message on a call with grpc-encoding identity");
        }
        this.length = 0;
      } else {
        this.length = this.length * 256 + byte;
      }
      if (++this.prefixSeen === PREFIX) {
        if (this.maxLength !== -1 && this.length > this.maxLength) {
          const details = `Received message larger than max (${this.length} vs. ${this.maxLength})`;
          return { code: status.RESOURCE_EXHAUSTED, details };
        }
        this.prefixSeen = 0;
        this.bodyLeft = this.length;
        if (this.length === 0) this.ended += 1;
      }
    }
    return undefined;
  }

  /** How many messages the bytes taken so far have completed. */
  get messagesEnded(): number {
    return this.ended;
  }

  /** The request ended: the status to refuse it with when its last message is incomplete, or undefined. */
  end(): GrpcStatus | undefined {
    const held = this.prefixSeen > 0 ? this.prefixSeen : this.bodyLeft > 0 ? PREFIX + this.length - this.bodyLeft : 0;
    return held > 0 ? internal(`Request ended inside a message (${held} bytes held)`) : undefined;
  }
}

function internal(details: string): GrpcStatus {
  return { code: status.INTERNAL, details };
}
