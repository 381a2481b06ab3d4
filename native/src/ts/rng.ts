/**
 * The random number generator of both backends, implemented identically in native/cpp/common.h: a stream
 * (seed, streamId) is expanded by splitmix32 (golden-ratio increment + murmur3 fmix32) into the 128-bit state of
 * xoshiro128**. Uniform numbers take the top 24 bits (exact as float32); integers below n are next() % n.
 */
export const STREAM_INIT = 0;
export const STREAM_SHUFFLE = 1;
export const STREAM_THREAD0 = 2;

function fmix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream: number) {
    let sm = (seed ^ fmix32((Math.imul(stream, 0x9e3779b9) + 0x7f4a7c15) >>> 0)) >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      sm = (sm + 0x9e3779b9) >>> 0;
      words.push(fmix32(sm));
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32-bit output, as an unsigned number. */
  next(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform integer in [0, n), n >= 1. */
  below(n: number): number {
    return this.next() % n;
  }

  /** Uniform in [0, 1) with 24 random bits. */
  uniform(): number {
    return (this.next() >>> 8) * (1 / 16777216);
  }
}
