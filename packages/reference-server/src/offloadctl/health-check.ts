import {
  makeGenericClientConstructor,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { OffloadError } from "@sessionoffload/offload-api";
import { service as healthService } from "grpc-health-check";

/** A health answer: "SERVING", "NOT_SERVING", "UNKNOWN", or "SERVICE_UNKNOWN" (the server does not know the service). */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN";

type HealthClient = Client & {
  check(
    request: { service: string },
    options: { deadline: Date },
    callback: (err: ServiceError | null, value?: { status: string }) => void,
  ): void;
};

/**
 * Asks the standard health service (grpc.health.v1.Health/Check) at `address`
 * for `service`. A server that does not know the service (NOT_FOUND) answers
 * "SERVICE_UNKNOWN"; any other failure is an `OffloadError` (UNAVAILABLE when
 * the server cannot be reached).
 */
export async function checkHealth(
  address: string,
  service: string,
  credentials: ChannelCredentials,
  options: { timeoutMs: number; channelOptions?: ChannelOptions },
): Promise<HealthStatus> {
  const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
  const client = new Health(address, credentials, options.channelOptions) as unknown as HealthClient;
  try {
    return await new Promise<HealthStatus>((resolve, reject) =>
      client.check({ service }, { deadline: new Date(Date.now() + options.timeoutMs) }, (err, res) => {
        if (err?.code === status.NOT_FOUND) resolve("SERVICE_UNKNOWN");
        else if (err) reject(new OffloadError(err.code, err.details, { cause: err, method: "health" }));
        else resolve((res?.status ?? "UNKNOWN") as HealthStatus);
      }),
    );
  } finally {
    client.close();
  }
}
