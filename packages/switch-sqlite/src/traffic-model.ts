import type Database from "better-sqlite3";
import type { RandomSource, TrafficModelOptions } from "@sessionoffload/switch-backend";
import { resolveTrafficOptions } from "@sessionoffload/switch-backend/kit";
import type { DataPlane } from "./data-plane";

/** One step of the traffic model, run inside the leader's write transaction; answers the sessions visited. */
export type TrafficStep = () => number;

type Row = { readonly id: bigint; readonly protocol: string };

/**
 * The simulated traffic over the stored table, with the memory switch's
 * settings (`TrafficModelOptions`, validated the same way). Each step: every
 * TCP session whose FIN handshake is under way (closing1 or closing2, found
 * through an index, so a new leader picks them up) moves one step towards
 * closed/finAck; then the next `samplesPerTick` live sessions after a cursor
 * kept in the database are visited round-robin (a table with fewer live
 * sessions than that is gone round several times): each visit gives
 * 0..maxPacketsPerSample packets per direction of random sizes, and a TCP
 * one may be reset or start its FIN handshake. Throws SwitchOptionError for
 * bad options.
 */
export function createSqliteTrafficModel(
  db: Database.Database,
  plane: DataPlane,
  random: RandomSource,
  options: TrafficModelOptions,
): TrafficStep {
  const settings = resolveTrafficOptions(options);
  const readCursor = db.prepare("SELECT traffic_cursor FROM switch_state WHERE singleton = 1").pluck();
  const writeCursor = db.prepare("UPDATE switch_state SET traffic_cursor = ? WHERE singleton = 1");
  const closing = db
    .prepare(
      "SELECT id FROM sessions INDEXED BY sessions_closing WHERE state IN ('closing1', 'closing2') AND live_key IS NOT NULL",
    )
    .pluck();
  const after = db.prepare(
    "SELECT id, protocol FROM sessions NOT INDEXED WHERE id > ? AND live_key IS NOT NULL ORDER BY id LIMIT ?",
  );
  const first = db.prepare(
    "SELECT id, protocol FROM sessions NOT INDEXED WHERE live_key IS NOT NULL ORDER BY id LIMIT ?",
  );

  const bytesFor = (packets: number): bigint => {
    let bytes = 0;
    for (let i = 0; i < packets; i++) bytes += random.nextInt(settings.minPacketBytes, settings.maxPacketBytes);
    return BigInt(bytes);
  };

  return () => {
    for (const id of closing.all() as bigint[]) plane.fin(id);
    const limit = settings.samplesPerTick;
    if (limit === 0) return 0;
    const cursor = readCursor.get() as bigint | null | undefined;
    const rows = (cursor == null ? first.all(limit) : after.all(cursor, limit)) as Row[];
    if (rows.length < limit && cursor != null) {
      // Wrap around to the start of the table.
      const seen = new Set(rows.map((row) => row.id));
      for (const row of first.all(limit - rows.length) as Row[]) if (!seen.has(row.id)) rows.push(row);
    }
    // A table smaller than samplesPerTick is visited repeatedly, as the memory
    // switch's sampling with replacement does, so that small tables (the demo)
    // see traffic and FIN/RST at the same pace on both switches.
    const visits = rows.length === 0 ? 0 : Math.max(rows.length, limit);
    const ended = new Set<bigint>();
    for (let k = 0; k < visits; k++) {
      const row = rows[k % rows.length]!;
      if (ended.has(row.id)) continue;
      const inPackets = random.nextInt(0, settings.maxPacketsPerSample);
      const outPackets = random.nextInt(0, settings.maxPacketsPerSample);
      // No packet, no refresh of the idle timer (as in the memory switch).
      if (inPackets + outPackets > 0)
        plane.addTraffic(row.id, {
          inPackets: BigInt(inPackets),
          outPackets: BigInt(outPackets),
          inBytes: bytesFor(inPackets),
          outBytes: bytesFor(outPackets),
        });
      if (row.protocol !== "tcp") continue;
      const roll = random.nextFloat();
      if (roll < settings.rstProbability) {
        plane.end(row.id, "rst");
        ended.add(row.id);
      } else if (roll < settings.rstProbability + settings.finProbability) {
        plane.startFin(row.id);
        ended.add(row.id);
      }
    }
    const last = rows[rows.length - 1];
    writeCursor.run(last === undefined ? null : last.id);
    return rows.length;
  };
}
