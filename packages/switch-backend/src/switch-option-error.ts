/**
 * A switch was given a bad option: `option` names it (dotted for nested
 * ones, e.g. `traffic.finProbability`) and `reason` says what is wrong.
 */
export class SwitchOptionError extends RangeError {
  override readonly name = "SwitchOptionError";
  constructor(
    readonly option: string,
    readonly reason: string,
  ) {
    super(`${option}: ${reason}`);
  }
}

/** Checks that `value` is an integer in [min, max]; answers it or throws SwitchOptionError. */
export function checkIntegerOption(option: string, value: number, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new SwitchOptionError(option, `must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** Checks that `value` is a probability in [0, 1]; answers it or throws SwitchOptionError. */
export function checkProbabilityOption(option: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new SwitchOptionError(option, `must be a probability in [0, 1], got ${String(value)}`);
  }
  return value;
}
