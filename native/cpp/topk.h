// Scoring and top-K selection: scores are dot products (plus biases), selection keeps a k-sized heap (partial
// selection, O(n log k) worst case, O(n) typical), ordered by score descending then id ascending. Items whose
// score is NaN (excluded items are marked NaN) are never returned.
#pragma once

#include <cstdint>

#include "common.h"

namespace recsys {

/** scores[i] = items[i]·u + (biases ? biases[i] : 0) + userBias */
void scoreAll(const float* u, const float* items, int64_t nItems, int dim, const float* biases, float userBias,
              float* scores);

/** Cosine similarity of every item with item `query`; NaN where either vector is zero and for the query itself. */
void cosineAll(const float* items, int64_t nItems, int dim, int64_t query, float* scores);

struct Scored {
  float score;
  int32_t id;
};

/** Writes the best min(k, #non-NaN) entries to ids/out (best first); returns how many. heap holds k entries. */
int64_t selectTopK(const float* scores, int64_t n, int64_t k, Scored* heap, int32_t* ids, float* out);

struct BatchTopKArgs {
  const float* userVectors;
  int64_t nUsers;
  const float* itemVectors;
  int64_t nItems;
  int dim;
  const float* itemBiases;  // nullable
  const float* userBiases;  // nullable
  Csr exclude;              // nRows == 0 when absent
  bool hasExclude;
  const int32_t* users;  // nullable: every user
  int64_t nOut;
  int64_t k;
  int threads;
  int32_t* outIds;     // nOut * k, -1 padded
  float* outScores;    // nOut * k, -Infinity padded
};

void batchTopK(const BatchTopKArgs& args);

}  // namespace recsys
