import { describe, it } from "@jest/globals";
import { describeSwitchBackendConformance } from "@sessionoffload/switch-backend/conformance";
import { createKernelSwitchHarness, kernelSwitchUnavailable } from "../src/conformance";

const reason = kernelSwitchUnavailable();
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
