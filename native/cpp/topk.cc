#include "topk.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"

namespace recsys {
namespace {

/** a ranks before b: higher score, then lower id. */
inline bool better(const Scored& a, const Scored& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

constexpr int64_t kUserChunk = 8;
constexpr int64_t kItemBlock = 1024;  // 1024 x 64 floats = 256 KiB: stays in L2 while a chunk of users reads it

/**
 * Scores for up to kUserChunk users at once, item block by item block, so each block is read from memory once
 * per chunk instead of once per user. Per user, exactly the operations of scoreAll: identical results.
 */
RECSYS_HOT void scoreChunk(const float* const* users, const float* userBiases, int nUsers, const float* items,
                           int64_t nItems, int dim, const float* biases, float* const* scores) {
  for (int64_t begin = 0; begin < nItems; begin += kItemBlock) {
    const int64_t end = std::min(nItems, begin + kItemBlock);
    for (int u = 0; u < nUsers; u++) {
      float* out = scores[u];
      const float* v = users[u];
      for (int64_t i = begin; i < end; i++) out[i] = dot(items + i * dim, v, dim);
    }
  }
  for (int u = 0; u < nUsers; u++) {
    float* out = scores[u];
    if (biases != nullptr) {
      for (int64_t i = 0; i < nItems; i++) out[i] += biases[i];
    }
    if (userBiases[u] != 0.0f) {
      for (int64_t i = 0; i < nItems; i++) out[i] += userBiases[u];
    }
  }
}

}  // namespace

RECSYS_HOT void scoreAll(const float* u, const float* items, int64_t nItems, int dim, const float* biases,
                         float userBias, float* scores) {
  for (int64_t i = 0; i < nItems; i++) scores[i] = dot(items + i * dim, u, dim);
  if (biases != nullptr) {
    for (int64_t i = 0; i < nItems; i++) scores[i] += biases[i];
  }
  if (userBias != 0.0f) {
    for (int64_t i = 0; i < nItems; i++) scores[i] += userBias;
  }
}

RECSYS_HOT void cosineAll(const float* items, int64_t nItems, int dim, int64_t query, float* scores) {
  const float* q = items + query * dim;
  const float qNorm = std::sqrt(dot(q, q, dim));
  for (int64_t i = 0; i < nItems; i++) {
    const float* v = items + i * dim;
    const float norm = std::sqrt(dot(v, v, dim));
    scores[i] = (norm > 0 && qNorm > 0) ? dot(v, q, dim) / (norm * qNorm) : std::numeric_limits<float>::quiet_NaN();
  }
  scores[query] = std::numeric_limits<float>::quiet_NaN();
}

int64_t selectTopK(const float* scores, int64_t n, int64_t k, Scored* heap, int32_t* ids, float* out) {
  // heap is a max-heap under `better` reversed: heap[0] is the worst of the kept entries.
  int64_t size = 0;
  int64_t i = 0;
  for (; i < n && size < k; i++) {
    const float s = scores[i];
    if (s != s) continue;
    heap[size++] = Scored{s, static_cast<int32_t>(i)};
    std::push_heap(heap, heap + size, better);
  }
  for (; i < n; i++) {
    const float s = scores[i];
    if (!(s >= heap[0].score)) continue;  // also skips NaN
    const Scored candidate{s, static_cast<int32_t>(i)};
    if (!better(candidate, heap[0])) continue;
    std::pop_heap(heap, heap + size, better);
    heap[size - 1] = candidate;
    std::push_heap(heap, heap + size, better);
  }
  std::sort(heap, heap + size, better);
  for (int64_t j = 0; j < size; j++) {
    ids[j] = heap[j].id;
    out[j] = heap[j].score;
  }
  return size;
}

void batchTopK(const BatchTopKArgs& a) {
  const int64_t nOut = a.nOut;
  const int n = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>(ThreadPool::resolveThreads(a.threads), (nOut + kUserChunk - 1) / kUserChunk)));
  std::atomic<int64_t> next{0};
  ThreadPool::instance().run(n, [&](int) {
    std::vector<float> scores(static_cast<size_t>(a.nItems) * kUserChunk);
    std::vector<Scored> heap(static_cast<size_t>(a.k));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float* vectors[kUserChunk];
    float* rows[kUserChunk];
    float userBias[kUserChunk];
    for (int64_t c = 0; c < kUserChunk; c++) rows[c] = scores.data() + c * a.nItems;
    for (;;) {
      const int64_t begin = next.fetch_add(kUserChunk, std::memory_order_relaxed);
      if (begin >= nOut) return;
      const int count = static_cast<int>(std::min(nOut, begin + kUserChunk) - begin);
      for (int c = 0; c < count; c++) {
        const int64_t user = a.users != nullptr ? a.users[begin + c] : begin + c;
        vectors[c] = a.userVectors + user * a.dim;
        userBias[c] = a.userBiases != nullptr ? a.userBiases[user] : 0.0f;
      }
      scoreChunk(vectors, userBias, count, a.itemVectors, a.nItems, a.dim, a.itemBiases, rows);
      for (int c = 0; c < count; c++) {
        const int64_t row = begin + c;
        const int64_t user = a.users != nullptr ? a.users[row] : row;
        float* userScores = rows[c];
        if (a.hasExclude) {
          for (int32_t e = a.exclude.indptr[user]; e < a.exclude.indptr[user + 1]; e++) userScores[a.exclude.indices[e]] = nan;
        }
        int32_t* ids = a.outIds + row * a.k;
        float* out = a.outScores + row * a.k;
        const int64_t got = selectTopK(userScores, a.nItems, a.k, heap.data(), ids, out);
        for (int64_t j = got; j < a.k; j++) {
          ids[j] = -1;
          out[j] = -std::numeric_limits<float>::infinity();
        }
      }
    }
  });
}

}  // namespace recsys
