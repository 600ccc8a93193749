import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Why kernel netlink tests cannot run here, or undefined when they can. */
export function kernelUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, ctnetlink)";
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore", timeout: 20_000 });
  } catch {
    return "needs the nft tool (apt-get install nftables)";
  }
  const probe = `k1-probe-${randomBytes(4).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 20_000 });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 20_000 });
  } catch (err) {
    return `needs network namespaces (ip netns add failed: ${(err as Error).message.split("\n")[0]})`;
  }
  return undefined;
}

/** A fresh network namespace with lo up and conntrack accounting on. */
export interface TestNetns {
  readonly name: string;
  /** Its file, for `openConntrack({ netns })`. */
  readonly path: string;
  /** Runs a command inside it (synchronously; throws on failure). */
  exec(cmd: string, args: readonly string[]): string;
  remove(): void;
}

/** Creates the namespace (synchronously: nothing runs before it is ready). */
export function createTestNetns(prefix: string): TestNetns {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  execFileSync("ip", ["netns", "add", name], { stdio: "pipe", timeout: 20_000 });
  const exec = (cmd: string, args: readonly string[]): string =>
    execFileSync("ip", ["netns", "exec", name, cmd, ...args], { encoding: "utf8", stdio: "pipe", timeout: 20_000 });
  exec("ip", ["link", "set", "lo", "up"]);
  // through /proc (per namespace) rather than the sysctl tool, which minimal images lack
  exec("sh", ["-c", "echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct"]);
  return {
    name,
    path: `/run/netns/${name}`,
    exec,
    remove: () => execFileSync("ip", ["netns", "del", name], { stdio: "pipe", timeout: 20_000 }),
  };
}
