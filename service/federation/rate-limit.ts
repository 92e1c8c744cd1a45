/** Token bucket: `rate` tokens per second, holding at most one second's worth. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = rate;
    this.#last = now();
  }

  setRate(rate: number): void {
    this.rate = rate;
  }

  /** Takes up to `want` tokens; returns how many were granted. */
  take(want: number): number {
    const t = this.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((t - this.#last) / 1000) * this.rate);
    this.#last = t;
    const granted = Math.max(0, Math.min(want, Math.floor(this.#tokens)));
    this.#tokens -= granted;
    return granted;
  }

  /** Milliseconds until `n` tokens are available. */
  waitMs(n = 1): number {
    return Math.ceil((Math.max(0, n - this.#tokens) / this.rate) * 1000);
  }
}
