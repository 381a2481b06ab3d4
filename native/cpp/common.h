// Shared types and small inline kernels of the native core.
//
// The kernels use GCC/Clang vector types (8 float lanes) rather than -ffast-math: reductions vectorise with a fixed
// summation order, so a result depends only on its inputs, never on the call site or on the ISA variant chosen at
// load time (see RECSYS_HOT).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace recsys {

// Functions doing the heavy lifting get an AVX2 clone chosen at load time (GNU ifunc) where the toolchain supports
// it; the kernels below are inlined into each clone. -ffp-contract=off keeps both clones bit-identical.
#if defined(RECSYS_TARGET_CLONES)
#define RECSYS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RECSYS_HOT
#endif

#define RECSYS_INLINE inline __attribute__((always_inline))

/** A CSR matrix borrowed from JS typed arrays (read in place, never owned). */
struct Csr {
  int32_t nRows = 0;
  int32_t nCols = 0;
  const int32_t* indptr = nullptr;
  const int32_t* indices = nullptr;
  const float* data = nullptr;
  int64_t nnz() const { return nRows > 0 ? indptr[nRows] : 0; }
};

typedef float v8sf __attribute__((vector_size(32)));

RECSYS_INLINE v8sf load8(const float* p) {
  v8sf v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

RECSYS_INLINE void store8(float* p, v8sf v) { std::memcpy(p, &v, sizeof(v)); }

RECSYS_INLINE float hsum8(v8sf v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/** Dot product with a fixed summation order: two 8-lane accumulators, then a scalar tail. */
RECSYS_INLINE float dot(const float* a, const float* b, int n) {
  v8sf acc0 = {0, 0, 0, 0, 0, 0, 0, 0};
  v8sf acc1 = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    acc0 += load8(a + j) * load8(b + j);
    acc1 += load8(a + j + 8) * load8(b + j + 8);
  }
  if (j + 8 <= n) {
    acc0 += load8(a + j) * load8(b + j);
    j += 8;
  }
  float s = hsum8(acc0 + acc1);
  for (; j < n; j++) s += a[j] * b[j];
  return s;
}

/** Σ x[j], with the same fixed order as dot. */
RECSYS_INLINE float sum(const float* x, int n) {
  v8sf acc = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8) acc += load8(x + j);
  float s = hsum8(acc);
  for (; j < n; j++) s += x[j];
  return s;
}

/** y += a * x */
RECSYS_INLINE void axpy(float a, const float* x, float* y, int n) {
  const v8sf va = {a, a, a, a, a, a, a, a};
  int j = 0;
  for (; j + 8 <= n; j += 8) store8(y + j, load8(y + j) + va * load8(x + j));
  for (; j < n; j++) y[j] += a * x[j];
}

/** y = x + b * y */
RECSYS_INLINE void xpby(const float* x, float b, float* y, int n) {
  const v8sf vb = {b, b, b, b, b, b, b, b};
  int j = 0;
  for (; j + 8 <= n; j += 8) store8(y + j, load8(x + j) + vb * load8(y + j));
  for (; j < n; j++) y[j] = x[j] + b * y[j];
}

/** y = A x for a dense row-major n x n matrix. */
RECSYS_INLINE void matvec(const float* A, const float* x, float* y, int n) {
  for (int i = 0; i < n; i++) y[i] = dot(A + static_cast<size_t>(i) * n, x, n);
}

// ---------------------------------------------------------------------------------------------------------------
// Random numbers. The TypeScript fallback (native/src/ts/rng.ts) implements exactly the same generator.
//
// Seeding: a stream (seed, streamId) is expanded with splitmix32 (golden-ratio increment + murmur3 fmix32) into
// the 128-bit state of xoshiro128**. Uniform floats take the top 24 bits; integers below n use x % n.

RECSYS_INLINE uint32_t fmix32(uint32_t z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

RECSYS_INLINE uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

class Rng {
 public:
  Rng(uint32_t seed, uint32_t stream) {
    uint32_t sm = seed ^ fmix32(stream * 0x9e3779b9u + 0x7f4a7c15u);
    for (uint32_t& word : s_) {
      sm += 0x9e3779b9u;
      word = fmix32(sm);
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
  }

  RECSYS_INLINE uint32_t next() {
    const uint32_t result = rotl32(s_[1] * 5u, 7) * 9u;
    const uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl32(s_[3], 11);
    return result;
  }

  /** Uniform integer in [0, n), n >= 1. */
  RECSYS_INLINE uint32_t below(uint32_t n) { return next() % n; }

  /** Uniform double in [0, 1) with 24 random bits (exactly representable as a float). */
  RECSYS_INLINE double uniform() { return static_cast<double>(next() >> 8) * (1.0 / 16777216.0); }

 private:
  uint32_t s_[4];
};

// Stream ids, shared with the TypeScript fallback.
constexpr uint32_t kStreamInit = 0;
constexpr uint32_t kStreamShuffle = 1;
constexpr uint32_t kStreamThread0 = 2;

}  // namespace recsys
