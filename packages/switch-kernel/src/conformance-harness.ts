import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { HarnessFactory } from "@sessionoffload/switch-backend/conformance";
import { createNftRunner, type NftCommand } from "./nft-runner";
import { createNftablesSwitch } from "./nftables-switch";

const exec = promisify(execFile);

/**
 * A conformance harness factory for the nftables switch (root and nft
 * needed): each harness gets a fresh network namespace, removed by dispose.
 * `endSession` injects the kernel-side marks the switch reads, then polls:
 * FIN marks of both directions (finAck), an RST mark (rst), or removes the
 * session's elements, as an element timeout would (timeout). No
 * `addTraffic`: kernel counters move only with real packets, which the
 * nftables tests send.
 */
export function createNftablesSwitchHarness(): HarnessFactory {
  return async (options) => {
    const netns = `so-conf-${randomBytes(4).toString("hex")}`;
    await exec("ip", ["netns", "add", netns]);
    const runner = createNftRunner({ netns });
    try {
      const backend = await createNftablesSwitch({
        capacity: options.capacity,
        netns,
        pollIntervalMs: 0,
        runner,
        ...(options.firstId === undefined ? {} : { firstId: options.firstId }),
      });
      const table = backend.tableName;
      return {
        backend,
        async endSession(id, code) {
          const keys = backend.kernelKeys(id);
          if (keys === undefined) throw new Error(`session ${id} is not in the kernel`);
          const element = (set: string, values: readonly (string | number)[]): NftCommand => ({
            add: { element: { family: keys.in.family, table, name: set, elem: [{ concat: values }] } },
          });
          const commands: NftCommand[] =
            code === "rst"
              ? [element("rst", keys.in.flagValues)]
              : code === "finAck"
                ? [element("fin", keys.in.flagValues), element("fin", keys.out.flagValues)]
                : [keys.in, keys.out].map((k) => ({
                    delete: { element: { family: k.family, table, name: k.map, elem: [{ concat: k.values }] } },
                  }));
          await runner.apply(commands);
          await backend.poll();
        },
        async dispose() {
          try {
            await backend.close();
          } finally {
            await exec("ip", ["netns", "del", netns]);
          }
        },
      };
    } catch (err) {
      await exec("ip", ["netns", "del", netns]).catch(() => undefined);
      throw err;
    }
  };
}
