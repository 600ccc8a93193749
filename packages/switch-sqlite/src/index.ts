export { createSqliteSwitch } from "./sqlite-switch";
export type { SqliteSwitch, SqliteStepReport } from "./sqlite-switch";
export type { SqliteSwitchOptions } from "./options";
export type { CounterDelta } from "./data-plane";
export { SqliteSwitchOpenError } from "./open-error";
export type { SqliteSwitchOpenReason } from "./open-error";
export type { AddBatcherStats, CommitStats } from "./write-batcher";
