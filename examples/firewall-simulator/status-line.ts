import type { SimulatorStatus } from "./simulator";

/** The live one-line status: offloaded, active, closed, rejected, rate. */
export function statusLine(s: SimulatorStatus): string {
  const parts = [
    `offloaded ${s.offloaded}`,
    `active ${s.active}`,
    `closed ${s.closed}`,
    `rejected ${s.rejected}`,
    `rate ${s.rate.toFixed(0)}/s`,
  ];
  if (s.errors > 0) parts.push(`errors ${s.errors}`);
  return parts.join(" | ");
}

/** The summary printed when the simulator stops. */
export function summaryLines(s: SimulatorStatus): string[] {
  const codes = Object.entries(s.byCloseCode)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
  return [
    "summary:",
    `  ran            ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `  offloaded      ${s.offloaded}`,
    `  still active   ${s.active}`,
    `  closed         ${s.closed}${codes === "" ? "" : ` (${codes})`}`,
    `  rejected       ${s.rejected} (table full)`,
    `  duplicates     ${s.duplicates}`,
    `  unknown closed ${s.unknown}`,
    `  errors         ${s.errors}${s.lastError === undefined ? "" : ` (last: ${s.lastError})`}`,
    `  traffic        in ${s.traffic.inPackets} pkts / ${s.traffic.inBytes} B, out ${s.traffic.outPackets} pkts / ${s.traffic.outBytes} B`,
  ];
}
