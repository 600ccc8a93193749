/** Limits every native call is served with. */
export interface CallOptions {
  /** Largest request message accepted, in bytes; -1 for no limit (grpc-js `grpc.max_receive_message_length`). */
  readonly maxReceiveMessageLength: number;
  /** Largest response message sent, in bytes; -1 for no limit (grpc-js `grpc.max_send_message_length`). */
  readonly maxSendMessageLength: number;
  /** Bytes of framed messages a server stream gathers into one HTTP/2 write. */
  readonly streamChunkBytes: number;
}
