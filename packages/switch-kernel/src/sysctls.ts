import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Longest conntrack timeout the kernel takes in a sysctl (seconds; jiffies in an int at HZ 1000). */
const MAX_KERNEL_TIMEOUT_S = 2_000_000;

/**
 * The conntrack timeout (seconds) the switch gives established TCP and UDP
 * flows in its namespace: past the longest default idle timeout (so the
 * kernel does not expire a session before the switch's reaper ends it), with
 * 30 s to spare. A packet resets an entry's timeout to this value, so the
 * time left on an entry tells when its last packet came.
 */
export function kernelTimeoutFor(longestIdleMs: number): number {
  return Math.min(MAX_KERNEL_TIMEOUT_S, Math.ceil(longestIdleMs / 1000) + 30);
}

/**
 * Sets the conntrack sysctls of the namespace (`ip netns exec` when named):
 * per-entry packet and byte accounting on, and `timeoutS` for established
 * TCP and (replied or not) UDP flows. They are per network namespace.
 */
export async function applyConntrackSysctls(netns: string | undefined, timeoutS: number): Promise<void> {
  const settings = [
    "net.netfilter.nf_conntrack_acct=1",
    `net.netfilter.nf_conntrack_tcp_timeout_established=${timeoutS}`,
    `net.netfilter.nf_conntrack_udp_timeout=${timeoutS}`,
    `net.netfilter.nf_conntrack_udp_timeout_stream=${timeoutS}`,
  ];
  const argv =
    netns === undefined ? ["sysctl", "-qw", ...settings] : ["ip", "netns", "exec", netns, "sysctl", "-qw", ...settings];
  await exec(argv[0] as string, argv.slice(1), { timeout: 20_000 });
}
