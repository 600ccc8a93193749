export { createMemorySwitch } from "./memory-switch";
export type { MemorySwitch } from "./memory-switch";
export { MAX_CAPACITY } from "./options";
export type { MemorySwitchOptions } from "./options";
