import type { NftCommand } from "./nft-runner";

type ElementOp = "add" | "delete";

interface ElementCommand {
  readonly op: ElementOp;
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly elem: readonly unknown[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The command as an element add/delete, or undefined for any other command (a barrier). */
function asElementCommand(command: NftCommand): ElementCommand | undefined {
  const keys = Object.keys(command);
  if (keys.length !== 1) return undefined;
  const op = keys[0];
  if (op !== "add" && op !== "delete") return undefined;
  const body = command[op];
  if (!isRecord(body) || Object.keys(body).length !== 1 || !isRecord(body["element"])) return undefined;
  const { family, table, name, elem } = body["element"];
  if (typeof family !== "string" || typeof table !== "string" || typeof name !== "string") return undefined;
  if (!Array.isArray(elem)) return undefined;
  return { op, family, table, name, elem };
}

/** Identity of one element of a set or map: a map element is `[key, data]`, a set element its key. */
function elementIdentity(c: ElementCommand, entry: unknown): string {
  const key: unknown = Array.isArray(entry) ? entry[0] : entry;
  return `${c.family}\u0000${c.table}\u0000${c.name}\u0000${JSON.stringify(key)}`;
}

/**
 * Rewrites a batch so that nft sees one `add element` / `delete element`
 * command per set or map (and per ordering step) instead of one per session:
 * nft's cost is per command, so this is what makes large batches fast.
 *
 * The result has the same effect as the input when applied as one
 * transaction: commands on different elements commute, so each element
 * command moves to the earliest step after (a) the previous command on any
 * of its elements and (b) the last non-element command (creating a chain or
 * a map is a barrier that later elements may depend on). Commands of one step
 * on the same set and operation are merged.
 */
export function coalesceCommands(commands: readonly NftCommand[]): NftCommand[] {
  // Steps in order: a barrier (one non-element command) or a group map keyed by op/family/table/name.
  const steps: (NftCommand | Map<string, ElementCommand & { elem: unknown[] }>)[] = [];
  const lastStep = new Map<string, number>();
  let floor = 0;
  for (const command of commands) {
    const el = asElementCommand(command);
    if (el === undefined) {
      steps.push(command);
      floor = steps.length;
      continue;
    }
    for (const entry of el.elem) {
      const id = elementIdentity(el, entry);
      const previous = lastStep.get(id);
      const index = Math.max(floor, previous === undefined ? floor : previous + 1);
      while (steps.length <= index) steps.push(new Map());
      const step = steps[index];
      if (!(step instanceof Map)) throw new Error("coalesceCommands: element step collides with a barrier");
      const groupKey = `${el.op}\u0000${el.family}\u0000${el.table}\u0000${el.name}`;
      let group = step.get(groupKey);
      if (group === undefined) {
        group = { op: el.op, family: el.family, table: el.table, name: el.name, elem: [] };
        step.set(groupKey, group);
      }
      group.elem.push(entry);
      lastStep.set(id, index);
    }
  }
  const out: NftCommand[] = [];
  for (const step of steps) {
    if (!(step instanceof Map)) {
      out.push(step);
      continue;
    }
    for (const g of step.values()) {
      out.push({ [g.op]: { element: { family: g.family, table: g.table, name: g.name, elem: g.elem } } });
    }
  }
  return out;
}
