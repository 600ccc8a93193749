// nghttp2 (the HTTP/2 of Node, under grpc-js's server) takes 1,000 stream resets from a client plus 33 more
// each second (counted in whole seconds), then ends the connection with GOAWAY INTERNAL_ERROR and fails every
// stream on it (its CVE-2023-44487 defence, nghttp2 >= 1.57).
const PEER_RESET_BURST = 1000;
const PEER_RESET_RATE = 33;
// Resets kept back for the streams still open on a connection that takes no new ones.
const RESET_RESERVE = 250;

/**
 * The stream resets an upstream connection may still send before its server
 * (nghttp2) would end it: the same token bucket, counted from our side.
 */
export class ResetBudget {
  private tokens = PEER_RESET_BURST;
  private second: number;

  constructor(now: number) {
    this.second = Math.floor(now / 1000);
  }

  /** Counts one reset sent at `now` (ms); false once only the reserve is left (open no more streams here). */
  spend(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second > this.second) {
      this.tokens = Math.min(PEER_RESET_BURST, this.tokens + (second - this.second) * PEER_RESET_RATE);
      this.second = second;
    }
    this.tokens -= 1;
    return this.tokens > RESET_RESERVE;
  }
}
