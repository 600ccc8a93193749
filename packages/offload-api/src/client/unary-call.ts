import {
  Metadata as GrpcMetadata,
  type CallOptions as GrpcCallOptions,
  type ClientUnaryCall,
  type Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { abortError } from "./call-options";
import { awaitRetry, type RetryContext } from "./retry-loop";

/** Starts one attempt of a unary call the way the generated grpc-js clients do. */
export type StartUnary<Res> = (
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

function attemptOnce<Res>(ctx: RetryContext, start: StartUnary<Res>): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const options: Partial<GrpcCallOptions> = ctx.deadlineMs === undefined ? {} : { deadline: ctx.deadlineMs };
    const call = start(new GrpcMetadata(), options, (error, response) => {
      ctx.signal?.removeEventListener("abort", onAbort);
      if (error !== null) reject(error);
      else resolve(response);
    });
    function onAbort(): void {
      call.cancel();
    }
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs a unary call under the context's deadline, signal and retry policy.
 * Resolves with the response and the number of attempts made; rejects with
 * `OffloadError` (CANCELLED when the signal fired).
 */
export async function invokeUnary<Res>(
  ctx: RetryContext,
  start: StartUnary<Res>,
): Promise<{ response: Res; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal?.aborted) throw abortError(ctx.signal, ctx.method, attempt);
    try {
      return { response: await attemptOnce(ctx, start), attempts: attempt };
    } catch (err) {
      if (ctx.signal?.aborted) throw abortError(ctx.signal, ctx.method, attempt);
      await awaitRetry(ctx, err, attempt);
    }
  }
}
