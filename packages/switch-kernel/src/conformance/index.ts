import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { createFakeClock } from "@sessionoffload/switch-backend";
import type { HarnessFactory } from "@sessionoffload/switch-backend/conformance";
import { createKernelSwitch } from "../kernel-switch";
import { openConntrack } from "../netlink";

const exec = promisify(execFile);

/** TCP_CONNTRACK_* states the harness moves an entry to, as the packets of a FIN exchange or an RST would. */
const TCP_TIME_WAIT = 7;
const TCP_CLOSE = 8;

const DEFAULT_IDLE_MS = { tcp: 3_600_000, udp: 30_000 };

/**
 * Why the kernel switch's harness cannot run here (Linux, root and the `nft` and `ip` tools are needed), or
 * undefined when it can: for skipping its conformance tests with the reason.
 */
export function kernelSwitchUnavailable(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN)";
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore" });
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "needs the nft and ip tools";
  }
  return undefined;
}

/**
 * A conformance harness factory for the kernel switch (root, nft and
 * conntrack support needed): each harness gets a fresh network namespace,
 * removed by dispose, and drives the switch's clock (a fake clock; the
 * switch's timers are off, the harness reads events and reaps itself).
 * `endSession` plays the kernel's part over its own conntrack socket: it
 * moves a TCP entry to TIME_WAIT (finAck) or CLOSE (rst), as the packets
 * would, or deletes the entry, as the kernel's expiry would (timeout); then
 * the switch reads the events. No `addTraffic`: kernel counters move only
 * with real packets, which the kernel switch's own tests send.
 */
export function createKernelSwitchHarness(): HarnessFactory {
  return async (options) => {
    const netns = `so-conf-${randomBytes(4).toString("hex")}`;
    await exec("ip", ["netns", "add", netns]);
    try {
      const clock = createFakeClock({ start: BigInt(Date.now()) * 1_000_000n });
      const backend = await createKernelSwitch({
        capacity: options.capacity,
        netns,
        clock,
        reapIntervalMs: 0,
        eventPollMs: 0,
        tcpIdleTimeoutMs: DEFAULT_IDLE_MS.tcp,
        udpIdleTimeoutMs: DEFAULT_IDLE_MS.udp,
        ...(options.firstId === undefined ? {} : { firstId: options.firstId }),
      });
      const kernel = openConntrack({ netns: `/run/netns/${netns}` });
      return {
        backend,
        defaultIdleTimeoutMs: DEFAULT_IDLE_MS,
        async endSession(id, code) {
          const tuple = backend.kernelTuple(id);
          if (tuple === undefined) throw new Error(`session ${id} is not in the kernel`);
          if (code === "timeout") {
            if (!kernel.delete(tuple)) throw new Error(`session ${id}: no conntrack entry`);
          } else {
            if (tuple.protocol !== 6) throw new Error(`session ${id}: only TCP sessions end with ${code}`);
            const existing = kernel.get(tuple);
            if (existing === undefined) throw new Error(`session ${id}: no conntrack entry`);
            const tcpState = code === "finAck" ? TCP_TIME_WAIT : TCP_CLOSE;
            const [errno] = kernel.write([{ orig: tuple, timeoutS: 60, mark: existing.mark, tcpState }], "update");
            if (errno !== 0) throw new Error(`session ${id}: conntrack update failed, errno ${errno}`);
          }
          await backend.pollEvents();
          await backend.flush();
        },
        async advanceIdleTime(ms) {
          clock.advance(ms);
          await backend.reap();
          await backend.flush();
        },
        async dispose() {
          try {
            kernel.close();
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
