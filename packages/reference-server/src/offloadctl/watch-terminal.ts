import type { OffloadClient, Session } from "@sessionoffload/offload-api";
import { renderWatchFrame, type TableSnapshot } from "./watch-view";

/** Where `runWatch` draws and what it reads keys from. */
export interface WatchTerminal {
  /** Writes text to the output. */
  write(text: string): void;
  /** Whether the output is a terminal: then the view is redrawn in place (alternate screen), else frames follow each other. */
  readonly isTty: boolean;
  /** Keys typed, when the input is a terminal (raw mode); `q` or Ctrl-C stops. */
  readonly keys?: {
    setRawMode(raw: boolean): void;
    on(event: "data", listener: (data: Buffer) => void): void;
    off(event: "data", listener: (data: Buffer) => void): void;
    resume(): void;
    pause(): void;
  };
}

/** Options of `runWatch`. */
export interface WatchOptions {
  readonly client: OffloadClient;
  /** The statistics server's address, for the title. */
  readonly address: string;
  /** Time between two listings, in milliseconds. */
  readonly intervalMs: number;
  /** How many of the busiest sessions to show. */
  readonly top: number;
  /** Stop after this many frames; default: until stopped. */
  readonly frames?: number;
  /** Stops the view (SIGINT, SIGTERM). */
  readonly signal: AbortSignal;
  /** Time source in milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
}

const ALTERNATE_SCREEN_ON = "\x1b[?1049h\x1b[?25l";
const ALTERNATE_SCREEN_OFF = "\x1b[?25h\x1b[?1049l";
const HOME_AND_CLEAR = "\x1b[H\x1b[2J";

async function snapshot(client: OffloadClient, signal: AbortSignal, now: () => number): Promise<TableSnapshot> {
  const sessions = new Map<bigint, Session>();
  for await (const s of client.getAllSessions({ signal })) sessions.set(s.id, s);
  return { atMs: now(), sessions };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * `offloadctl watch`: lists the whole table every interval and draws
 * `renderWatchFrame`. On a terminal it draws on the alternate screen and
 * stops on `q` or Ctrl-C, leaving the terminal as it found it; otherwise it
 * writes one frame after another, separated by a blank line, until the
 * signal fires or `frames` are written. The first listing's failure is
 * thrown (the server cannot be reached); later failures are shown in the view
 * and retried at the next refresh.
 */
export async function runWatch(terminal: WatchTerminal, options: WatchOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal.addEventListener("abort", onAbort);
  if (options.signal.aborted) stop.abort();
  const onKey = (data: Buffer): void => {
    if (data.includes(0x71) || data.includes(0x51) || data.includes(0x03)) stop.abort(); // q, Q, Ctrl-C
  };
  const keys = terminal.isTty ? terminal.keys : undefined;
  if (keys !== undefined) {
    keys.setRawMode(true);
    keys.on("data", onKey);
    keys.resume();
  }
  let drawn = false;
  try {
    let before: TableSnapshot | undefined;
    let frames = 0;
    while (!stop.signal.aborted) {
      let lines: string[];
      try {
        const current = await snapshot(options.client, stop.signal, now);
        lines = renderWatchFrame(current, before, { ...options, interactive: keys !== undefined });
        before = current;
      } catch (err) {
        if (stop.signal.aborted) break;
        if (before === undefined) throw err;
        lines = [`offloadctl watch ${options.address}: ${err instanceof Error ? err.message : String(err)}`];
      }
      if (terminal.isTty) {
        if (!drawn) terminal.write(ALTERNATE_SCREEN_ON);
        terminal.write(`${HOME_AND_CLEAR}${lines.join("\n")}\n`);
      } else {
        terminal.write(`${drawn ? "\n" : ""}${lines.join("\n")}\n`);
      }
      drawn = true;
      frames += 1;
      if (options.frames !== undefined && frames >= options.frames) break;
      await sleep(options.intervalMs, stop.signal);
    }
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    if (keys !== undefined) {
      keys.off("data", onKey);
      keys.setRawMode(false);
      keys.pause();
    }
    if (terminal.isTty && drawn) terminal.write(ALTERNATE_SCREEN_OFF);
  }
}
