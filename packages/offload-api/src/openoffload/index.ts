export { ipv4FromInAddr, ipv4ToInAddr } from "./in-addr";
export { validateOpenOffloadRequest } from "./openoffload-validation";
export type { OpenOffloadSessionSpec } from "./openoffload-validation";
export { openOffloadSessionToWire, openOffloadSessionFromWire, openOffloadSpecToWire } from "./openoffload-convert";
