import {
  createMemorySwitchHarness,
  describeSwitchBackendConformance,
} from "@sessionoffload/switch-backend/conformance";

describeSwitchBackendConformance("memory switch", createMemorySwitchHarness());
