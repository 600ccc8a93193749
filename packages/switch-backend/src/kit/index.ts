/**
 * Building blocks for switch implementations beyond the memory switch (the
 * SQLite and kernel switches use them; a vendor's switch may too): the
 * session an accepted add answers, the checks of add's id and idle timeout,
 * option checks that throw `SwitchOptionError`, and the memory switch's
 * option resolution.
 */
export { newSession } from "../new-session";
export { checkAddArguments } from "../add-checks";
export { checkIntegerOption, checkProbabilityOption } from "../switch-option-error";
export { resolveMemorySwitchOptions } from "../memory-switch/options";
export type { ResolvedMemorySwitchOptions } from "../memory-switch/options";
