export type { SwitchBackend, AddResult, ClosedLease, IterateOptions, MaybePromise } from "./backend";
