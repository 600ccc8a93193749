import type { VerdictSpec } from "./session-tuple";

/** The nft families the switch programs: one table of each, both with the configured name. */
export const NFT_FAMILIES = ["ip", "ip6"] as const;

/** Bits of the conntrack mark that say "an offloaded session of this switch": the rest is the verdict's number. */
export const MARK_TAG_MASK = 0xff00_0000;

/** Most verdict chains (distinct action, next hop and interfaces) a switch can hold. */
export const MAX_VERDICTS = 0x00ff_ffff;

/** The conntrack mark of a session with verdict number `index` under tag `tag` (top byte). */
export function sessionMark(tag: number, index: number): number {
  return ((tag & MARK_TAG_MASK) | index) >>> 0;
}

/**
 * The static ruleset of one family's table (nft text): the forward base chain
 * (policy accept) sends a packet whose conntrack entry carries one of the
 * switch's marks to that mark's verdict chain (`ct mark vmap @verdicts`);
 * any other packet takes the host's default path. The never-jumped-to chain
 * `labels` names a `ct label` bit, which makes the kernel give every
 * conntrack entry a label area, where the switch keeps session ids.
 */
export function tableScript(family: (typeof NFT_FAMILIES)[number], table: string): string {
  return [
    `table ${family} ${table} {`,
    `  map verdicts { type mark : verdict; }`,
    `  chain labels { ct label 127 accept; }`,
    `  chain forward { type filter hook forward priority 0; policy accept; ct mark vmap @verdicts; }`,
    `}`,
  ].join("\n");
}

function quoted(lif: string): string {
  return `"${lif}"`;
}

/**
 * The verdict chain of a spec (nft text) and its entry in the verdict map:
 * packets of the session that arrive or leave by other interfaces than the
 * spec names return to the default path; the rest are duplicated to the next
 * hop (MIRROR, SNOOP) and accepted or dropped.
 */
export function verdictScript(table: string, index: number, mark: number, spec: VerdictSpec): string {
  const chain = `v${index}`;
  const rules: string[] = [];
  if (spec.inLif !== "") {
    rules.push(`ct direction original iifname != ${quoted(spec.inLif)} return`);
    rules.push(`ct direction reply oifname != ${quoted(spec.inLif)} return`);
  }
  if (spec.outLif !== "") {
    rules.push(`ct direction original oifname != ${quoted(spec.outLif)} return`);
    rules.push(`ct direction reply iifname != ${quoted(spec.outLif)} return`);
  }
  if (spec.dup !== undefined) rules.push(`dup to ${spec.dup}`);
  rules.push(spec.verdict);
  return [
    `add chain ${spec.family} ${table} ${chain}`,
    ...rules.map((r) => `add rule ${spec.family} ${table} ${chain} ${r}`),
    `add element ${spec.family} ${table} verdicts { 0x${mark.toString(16)} : jump ${chain} }`,
  ].join("\n");
}

/** nft text that deletes the switch's tables if they exist (add-then-delete works either way). */
export function teardownScript(table: string): string {
  return NFT_FAMILIES.map((f) => `add table ${f} ${table}\ndelete table ${f} ${table}`).join("\n");
}
