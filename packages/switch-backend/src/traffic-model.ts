import type { RandomSource } from "./random";
import { checkIntegerOption, checkProbabilityOption } from "./switch-option-error";

/** Tuning of the simulated traffic; every field is optional. */
export interface TrafficModelOptions {
  /** Sessions picked at random per tick to receive traffic; default 1000. */
  readonly samplesPerTick?: number;
  /** Most packets per direction a picked session receives in a tick; default 20. */
  readonly maxPacketsPerSample?: number;
  /** Smallest packet in bytes; default 64. */
  readonly minPacketBytes?: number;
  /** Largest packet in bytes; default 1500. */
  readonly maxPacketBytes?: number;
  /** Chance that a picked TCP session starts its FIN handshake; default 0.002. */
  readonly finProbability?: number;
  /** Chance that a picked TCP session is reset; default 0.0005. */
  readonly rstProbability?: number;
}

/** What the traffic model drives: the switch's slots, seen through a narrow view. */
export interface TrafficTarget {
  /** Slots are numbered 0..slotCount()-1; some may be free or ended. */
  slotCount(): number;
  /** True for an occupied slot whose session has not ended. */
  isLive(slot: number): boolean;
  /** True for a TCP session. */
  isTcp(slot: number): boolean;
  /** True for a live session whose FIN handshake has not started. */
  isEstablished(slot: number): boolean;
  /** A number unique to the slot's session, to recognise a slot reused by another session. */
  serialOf(slot: number): number;
  /** Counts traffic on a live session and refreshes its idle timer. */
  addTraffic(slot: number, inPackets: number, outPackets: number, inBytes: number, outBytes: number): void;
  /** Moves a live TCP session one step through its FIN handshake; answers true once it is closed. */
  finStep(slot: number): boolean;
  /** Ends a live TCP session with RST. */
  reset(slot: number): void;
}

/** A seeded traffic generator: one `tick` per timer tick or test step. */
export interface TrafficModel {
  /** Advances pending FIN handshakes, then gives traffic to sampled sessions. Cost: O(samples + pending FINs). */
  tick(target: TrafficTarget): void;
}

/** Resolved traffic model settings: the options with every default filled in. */
export type TrafficSettings = Required<TrafficModelOptions>;

/** Validates traffic options (errors name `traffic.<field>`) and fills defaults. */
export function resolveTrafficOptions(options: TrafficModelOptions = {}): TrafficSettings {
  const minPacketBytes = checkIntegerOption("traffic.minPacketBytes", options.minPacketBytes ?? 64, 1, 65_535);
  return {
    samplesPerTick: checkIntegerOption("traffic.samplesPerTick", options.samplesPerTick ?? 1000, 0, 1e9),
    maxPacketsPerSample: checkIntegerOption("traffic.maxPacketsPerSample", options.maxPacketsPerSample ?? 20, 0, 1e6),
    minPacketBytes,
    maxPacketBytes: checkIntegerOption(
      "traffic.maxPacketBytes",
      options.maxPacketBytes ?? 1500,
      minPacketBytes,
      65_535,
    ),
    finProbability: checkProbabilityOption("traffic.finProbability", options.finProbability ?? 0.002),
    rstProbability: checkProbabilityOption("traffic.rstProbability", options.rstProbability ?? 0.0005),
  };
}

/**
 * Makes a traffic model drawing from `random`. Each tick: every TCP session
 * whose FIN handshake is under way moves one step (established -> closing1 ->
 * closing2 -> closed/finAck, one step per tick); then `samplesPerTick` slots
 * are picked uniformly, and each live one gets 0..maxPacketsPerSample packets
 * per direction of random sizes, and a TCP one may start a FIN handshake or
 * be reset. Throws SwitchOptionError for bad options.
 */
export function createTrafficModel(options: TrafficModelOptions, random: RandomSource): TrafficModel {
  const settings = resolveTrafficOptions(options);
  // FIN handshakes under way: slot and serial pairs.
  let pendingSlots: number[] = [];
  let pendingSerials: number[] = [];

  function bytesFor(packets: number): number {
    let bytes = 0;
    for (let i = 0; i < packets; i++) bytes += random.nextInt(settings.minPacketBytes, settings.maxPacketBytes);
    return bytes;
  }

  return {
    tick(target) {
      const slots = pendingSlots;
      const serials = pendingSerials;
      pendingSlots = [];
      pendingSerials = [];
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i] ?? 0;
        const serial = serials[i] ?? 0;
        if (target.serialOf(slot) !== serial || !target.isLive(slot)) continue;
        if (!target.finStep(slot)) {
          pendingSlots.push(slot);
          pendingSerials.push(serial);
        }
      }
      const count = target.slotCount();
      if (count === 0) return;
      for (let n = 0; n < settings.samplesPerTick; n++) {
        const slot = random.nextInt(0, count - 1);
        if (!target.isLive(slot)) continue;
        const inPackets = random.nextInt(0, settings.maxPacketsPerSample);
        const outPackets = random.nextInt(0, settings.maxPacketsPerSample);
        target.addTraffic(slot, inPackets, outPackets, bytesFor(inPackets), bytesFor(outPackets));
        if (!target.isTcp(slot)) continue;
        const roll = random.nextFloat();
        if (roll < settings.rstProbability) {
          target.reset(slot);
        } else if (roll < settings.rstProbability + settings.finProbability && target.isEstablished(slot)) {
          target.finStep(slot);
          pendingSlots.push(slot);
          pendingSerials.push(target.serialOf(slot));
        }
      }
    },
  };
}
