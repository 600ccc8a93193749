/**
 * Building blocks for switch implementations beyond the memory switch (the
 * SQLite and kernel switches use them; a vendor's switch may too), and for
 * servers over a switch: the session an accepted add answers, the checks of
 * add's id and idle timeout, option checks that throw `SwitchOptionError`,
 * the memory switch's option and traffic-model option resolution, `isThenable` for `MaybePromise`
 * answers, and exactly-once closed-session delivery.
 */
export { newSession } from "../new-session";
export { checkAddArguments } from "../add-checks";
export { checkIntegerOption, checkProbabilityOption } from "../switch-option-error";
export { resolveMemorySwitchOptions } from "../memory-switch/options";
export type { ResolvedMemorySwitchOptions } from "../memory-switch/options";
export { resolveTrafficOptions } from "../traffic-model";
export type { TrafficSettings } from "../traffic-model";
export { isThenable } from "../maybe-promise";
export { deliverClosedSessions, DEFAULT_CLOSED_BATCH_SIZE } from "./closed-delivery";
export type { ClosedDeliveryOptions, ClosedSessionSink } from "./closed-delivery";
