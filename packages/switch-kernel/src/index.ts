export { createKernelSwitch } from "./kernel-switch";
export type { KernelSwitch, KernelSwitchOptions } from "./kernel-switch";
export { createNftRunner, NftError } from "./nft-runner";
export type { NftRunner, NftRunnerOptions } from "./nft-runner";
export { NetlinkError } from "./netlink";
export type { ConntrackTuple } from "./netlink";
