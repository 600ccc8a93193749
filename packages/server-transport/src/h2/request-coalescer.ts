import { grownBuffer } from "../grown-buffer";

// The smallest write a forwarded request's DATA is gathered into, unless a message ends first.
const FORWARD_CHUNK = 16 * 1024;
// The smallest buffer it is gathered in.
const MIN_GATHERED = 1024;

/**
 * Gathers a forwarded request's DATA into writes that each complete a
 * message or carry at least 16 KiB. A client may send a message a byte per
 * DATA frame; passed on frame by frame, each byte would become a write of
 * Node's http2 client and a Buffer in grpc-js's message reassembly (a
 * hundred bytes of memory for each byte sent). No complete message is held
 * back: bytes that complete one go out with all gathered before them (a
 * client of a bidirectional call may wait for its answer). Frames that
 * complete a message, or are large, with nothing gathered before them, pass
 * on as they are.
 */
export class RequestCoalescer {
  private gathered: Buffer | undefined;
  private filled = 0;

  /** `write` passes bytes on; it may keep them. */
  constructor(private readonly write: (bytes: Buffer) => void) {}

  /** Takes the next bytes; `completesMessage`: a gRPC message ends in them. */
  push(chunk: Buffer, completesMessage: boolean): void {
    if (this.filled === 0 && (completesMessage || chunk.length >= FORWARD_CHUNK)) {
      this.write(chunk);
      return;
    }
    const need = this.filled + chunk.length;
    this.gathered = grownBuffer(this.gathered, this.filled, need, MIN_GATHERED);
    chunk.copy(this.gathered, this.filled);
    this.filled = need;
    if (completesMessage || this.filled >= FORWARD_CHUNK) this.flush();
  }

  /** Passes on what is gathered. */
  flush(): void {
    if (this.gathered === undefined || this.filled === 0) return;
    const bytes = this.gathered.subarray(0, this.filled);
    this.gathered = undefined;
    this.filled = 0;
    this.write(bytes);
  }
}
