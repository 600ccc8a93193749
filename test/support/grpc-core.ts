/**
 * Shared by the interop tests of several packages: gRPC's C core through
 * Debian's python3-grpcio, and the `describe` that runs them only where it is
 * installed (skipped with a one-line reason elsewhere; `.ci/run` installs it).
 */
import { describe } from "@jest/globals";
import { execFileSync } from "node:child_process";

/** Debian's interpreter, where apt puts python3-grpcio. */
export const GRPC_CORE_PYTHON = "/usr/bin/python3";

function grpcCoreMissing(): string | undefined {
  try {
    execFileSync(GRPC_CORE_PYTHON, ["-c", "import grpc"], { stdio: "pipe" });
    return undefined;
  } catch {
    return `skipped: ${GRPC_CORE_PYTHON} has no grpc module (apt-get install python3-grpcio; .ci/run does)`;
  }
}

const missing = grpcCoreMissing();
if (missing !== undefined) console.warn(missing);

/** `describe` where python3-grpcio is installed, `describe.skip` (with the reason printed) where not. */
export const describeWithGrpcCore: typeof describe.skip = missing === undefined ? describe : describe.skip;
