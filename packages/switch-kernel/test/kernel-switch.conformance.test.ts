import { execFileSync } from "node:child_process";
import { describe, it } from "@jest/globals";
import { describeSwitchBackendConformance } from "@sessionoffload/switch-backend/conformance";
import { createKernelSwitchHarness } from "../src/conformance";

function unavailable(): string | undefined {
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

const reason = unavailable();
if (reason === undefined) {
  // Conntrack keys a flow by its 5-tuple: two live sessions that differ only in their interfaces cannot both
  // be in the kernel, and the second add is refused with a ValidationError (see docs/KERNEL.md).
  describeSwitchBackendConformance("kernel switch", createKernelSwitchHarness(), { notYet: ["lifOnlyVariants"] });
} else {
  describe("kernel switch conformance", () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
  console.log(`kernel switch conformance skipped: ${reason}`);
}
