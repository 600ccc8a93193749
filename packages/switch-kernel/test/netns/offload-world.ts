import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { createOffloadClient, type OffloadClient } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createKernelSwitch, type KernelSwitch, type KernelSwitchOptions } from "../../src";
import { createTopology, type Topology } from "./topology";

/** The test topology with the kernel switch in its switch namespace, served over gRPC, and a client. */
export interface OffloadWorld {
  readonly topo: Topology;
  readonly backend: KernelSwitch;
  /** The typed client of both services (plaintext, 127.0.0.1). */
  readonly client: OffloadClient;
  /** Closes the client, the servers and the switch (its tables) and deletes the namespaces; every step runs. */
  close(): Promise<void>;
}

/** Runs every step even if an earlier one throws; rethrows the first error. */
async function runAll(steps: readonly (() => unknown)[]): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Builds the namespaces, runs `createKernelSwitch` on the switch namespace
 * (nft and the netlink sockets act there; the servers run in this process), serves it with the
 * session and statistics servers on 127.0.0.1:0 and connects a client. On
 * failure removes whatever it had made.
 */
export async function createOffloadWorld(
  switchOptions: Omit<KernelSwitchOptions, "netns" | "capacity"> & { readonly capacity?: number },
): Promise<OffloadWorld> {
  const undo: (() => unknown)[] = [];
  const close = (): Promise<void> => runAll(undo.splice(0).reverse());
  try {
    const topo = await createTopology();
    undo.push(() => topo.destroy());
    const backend = await createKernelSwitch({ capacity: 64, ...switchOptions, netns: topo.sw });
    undo.push(() => backend.close());
    const credentials = createInsecureCredentials();
    const servers: OffloadServer[] = [
      createSessionServer({ backend, credentials, shutdownTimeoutMs: 2_000 }),
      createStatsServer({ backend, credentials, shutdownTimeoutMs: 2_000 }),
    ];
    for (const s of servers) undo.push(() => s.shutdown().catch(() => s.forceShutdown()));
    const [sessionsPort, statsPort] = await Promise.all(servers.map((s) => s.listen("127.0.0.1:0")));
    const client = createOffloadClient({
      sessionsAddress: `127.0.0.1:${sessionsPort}`,
      statsAddress: `127.0.0.1:${statsPort}`,
      credentials: { insecure: true },
    });
    undo.push(() => client.close());
    return { topo, backend, client, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
