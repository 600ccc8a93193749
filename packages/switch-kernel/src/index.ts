export { createNftablesSwitch } from "./nftables-switch";
export type { NftablesSwitch, NftablesSwitchOptions } from "./nftables-switch";
export { createNftRunner, NftError } from "./nft-runner";
export type { NftRunner, NftRunnerOptions, NftCommand, NftJsonOutput } from "./nft-runner";
export { createNftablesSwitchHarness } from "./conformance-harness";
export type { SessionKeys, DirectionKey } from "./session-keys";
