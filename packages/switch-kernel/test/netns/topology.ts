import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Runs a command and answers its stdout; rejects with its stderr. */
export async function sh(cmd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await exec(cmd, [...args], { timeout: 20_000 });
  return stdout;
}

/**
 * Why real-packet tests cannot run here, or undefined when they can (root,
 * nft and ip present, network namespaces allowed).
 */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== "linux") return "nftables tests need Linux";
  if (process.getuid?.() !== 0) return "nftables tests need root (CAP_NET_ADMIN)";
  try {
    await sh("nft", ["--version"]);
  } catch {
    return "nftables tests need the nft tool (apt-get install nftables)";
  }
  const probe = `so-probe-${randomBytes(4).toString("hex")}`;
  try {
    await sh("ip", ["netns", "add", probe]);
    await sh("ip", ["netns", "del", probe]);
  } catch (err) {
    return `nftables tests need network namespaces (ip netns add failed: ${(err as Error).message.split("\n")[0]})`;
  }
  return undefined;
}

/**
 * The same check as `netnsUnavailableReason`, synchronously, for deciding at
 * registration time whether a suite runs or is reported as skipped.
 */
export function netnsUnavailableReasonSync(): string | undefined {
  if (process.platform !== "linux") return "nftables tests need Linux";
  if (process.getuid?.() !== 0) return "nftables tests need root (CAP_NET_ADMIN)";
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore", timeout: 20_000 });
  } catch {
    return "nftables tests need the nft tool (apt-get install nftables)";
  }
  const probe = `so-probe-${randomBytes(4).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 20_000 });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 20_000 });
  } catch (err) {
    return `nftables tests need network namespaces (ip netns add failed: ${(err as Error).message.split("\n")[0]})`;
  }
  return undefined;
}

/** The addresses of one host in the test topology. */
export interface HostAddresses {
  readonly v4: string;
  readonly v6: string;
}

/**
 * Four namespaces: client -- switch -- server, and a mirror host on the
 * switch, joined by veth pairs, on documentation prefixes only (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32). The switch routes
 * (forwarding on); the client and server route through it; the mirror host
 * has no routes beyond its link, so it never answers what it receives.
 */
export interface Topology {
  readonly client: string;
  readonly sw: string;
  readonly server: string;
  readonly mirror: string;
  readonly clientAddr: HostAddresses;
  readonly serverAddr: HostAddresses;
  readonly mirrorAddr: HostAddresses;
  /** Switch interface names towards the client and the server. */
  readonly swToClient: string;
  readonly swToServer: string;
  /** Deletes the namespaces (and with them the veths and any nft state). */
  destroy(): Promise<void>;
}

/** Builds the topology with unique namespace names; on failure removes what it made. */
export async function createTopology(): Promise<Topology> {
  const tag = randomBytes(3).toString("hex");
  const client = `so-c-${tag}`;
  const sw = `so-s-${tag}`;
  const server = `so-v-${tag}`;
  const mirror = `so-m-${tag}`;
  const all = [client, sw, server, mirror];
  const made: string[] = [];
  const destroy = async (): Promise<void> => {
    for (const ns of made) await sh("ip", ["netns", "del", ns]).catch(() => undefined);
  };
  try {
    for (const ns of all) {
      await sh("ip", ["netns", "add", ns]);
      made.push(ns);
      // No duplicate address detection: IPv6 (link-local addresses included) works as soon as a link is up.
      await sh("ip", [
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
      ]);
      await sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    const links: [string, string, string, string, string, string][] = [
      // switch side name, peer ns, prefix v4, prefix v6
      ["toc", client, "192.0.2", "2001:db8:1:", "", ""],
      ["tov", server, "198.51.100", "2001:db8:2:", "", ""],
      ["tom", mirror, "203.0.113", "2001:db8:3:", "", ""],
    ];
    for (const [swIf, peer, p4, p6] of links) {
      await sh("ip", ["-n", sw, "link", "add", swIf, "type", "veth", "peer", "name", "eth0", "netns", peer]);
      await sh("ip", ["-n", sw, "addr", "add", `${p4}.1/24`, "dev", swIf]);
      await sh("ip", ["-n", sw, "addr", "add", `${p6}:1/64`, "dev", swIf, "nodad"]);
      await sh("ip", ["-n", peer, "addr", "add", `${p4}.2/24`, "dev", "eth0"]);
      await sh("ip", ["-n", peer, "addr", "add", `${p6}:2/64`, "dev", "eth0", "nodad"]);
      await sh("ip", ["-n", sw, "link", "set", swIf, "up"]);
      await sh("ip", ["-n", peer, "link", "set", "eth0", "up"]);
      if (peer !== mirror) {
        await sh("ip", ["-n", peer, "route", "add", "default", "via", `${p4}.1`]);
        await sh("ip", ["-n", peer, "-6", "route", "add", "default", "via", `${p6}:1`]);
      }
    }
    await sh("ip", ["netns", "exec", sw, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    client,
    sw,
    server,
    mirror,
    clientAddr: { v4: "192.0.2.2", v6: "2001:db8:1::2" },
    serverAddr: { v4: "198.51.100.2", v6: "2001:db8:2::2" },
    mirrorAddr: { v4: "203.0.113.2", v6: "2001:db8:3::2" },
    swToClient: "toc",
    swToServer: "tov",
    destroy,
  };
}
