#include "warp.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <vector>

#include "pool.h"

namespace recsys {
namespace {

constexpr double kMaxLoss = 10.0;
constexpr double kMinScale = 1e-6;  // lightfm's MAX_REG_SCALE, as 1 / scale
constexpr int64_t kCancelCheckEvery = 4096;

struct Side {
  Csr features;
  float* emb;
  float* bias;
  std::vector<float> embAcc;   // Adagrad sums of squared gradients, start at 1 (lightfm)
  std::vector<float> biasAcc;
  std::atomic<double> scale{1.0};  // true parameter = stored * scale (lazy L2)
  double alpha;
  int64_t nFeatures;
};

/** Representation of row `row`: dim components then the bias, Σ_f (w_f * scale) * [e_f, b_f]. */
RECSYS_INLINE void representation(const Side& s, int32_t row, int dim, float* out) {
  const float scale = static_cast<float>(s.scale.load(std::memory_order_relaxed));
  std::fill(out, out + dim + 1, 0.0f);
  for (int32_t i = s.features.indptr[row]; i < s.features.indptr[row + 1]; i++) {
    const int64_t f = s.features.indices[i];
    const float w = s.features.data[i] * scale;
    axpy(w, s.emb + f * dim, out, dim);
    out[dim] += w * s.bias[f];
  }
}

RECSYS_INLINE float predict(const float* user, const float* item, int dim) {
  return (user[dim] + item[dim]) + dot(user, item, dim);
}

/**
 * The score of row `row` against a user representation without building the row's representation:
 * user bias + Σ_f (w_f * scale) * (user·e_f + b_f). Used for the sampled negatives, most of which need no update.
 */
RECSYS_INLINE float scoreRow(const Side& s, int32_t row, int dim, const float* user) {
  const float scale = static_cast<float>(s.scale.load(std::memory_order_relaxed));
  float score = user[dim];
  for (int32_t i = s.features.indptr[row]; i < s.features.indptr[row + 1]; i++) {
    const int64_t f = s.features.indices[i];
    const float w = s.features.data[i] * scale;
    score += w * (dot(user, s.emb + f * dim, dim) + s.bias[f]);
  }
  return score;
}

/**
 * Adagrad step on every feature of `row` for the gradient g (dim components) and gBias (applied when withBias),
 * both with respect to the representation. Returns the sum of the per-parameter learning rates (for lazy L2).
 */
template <bool kSumRates>
RECSYS_INLINE double update(Side& s, int32_t row, int dim, const float* __restrict g, float gBias, bool withBias,
                            float lr, float* __restrict rates) {
  const float invScale = static_cast<float>(1.0 / s.scale.load(std::memory_order_relaxed));
  double sumRates = 0;
  for (int32_t i = s.features.indptr[row]; i < s.features.indptr[row + 1]; i++) {
    const int64_t f = s.features.indices[i];
    const float w = s.features.data[i];
    float* __restrict e = s.emb + f * dim;
    float* __restrict acc = s.embAcc.data() + f * dim;
    for (int j = 0; j < dim; j++) {
      const float gw = g[j] * w;
      const float rate = lr / std::sqrt(acc[j]);
      e[j] -= rate * gw * invScale;
      acc[j] += gw * gw;
      if (kSumRates) rates[j] = rate;
    }
    if (kSumRates) sumRates += sum(rates, dim);
    if (withBias) {
      const float gw = gBias * w;
      const float rate = lr / std::sqrt(s.biasAcc[f]);
      s.bias[f] -= rate * gw * invScale;
      s.biasAcc[f] += gw * gw;
      sumRates += rate;
    }
  }
  return sumRates;
}

/** Folds the scale factor into the stored parameters (lightfm's regularize). */
void fold(Side& s, int dim) {
  const double scale = s.scale.load(std::memory_order_relaxed);
  if (scale == 1.0) return;
  const float f = static_cast<float>(scale);
  for (int64_t i = 0; i < s.nFeatures * dim; i++) s.emb[i] *= f;
  for (int64_t i = 0; i < s.nFeatures; i++) s.bias[i] *= f;
  s.scale.store(1.0, std::memory_order_relaxed);
}

struct Scratch {
  std::vector<float> user, pos, neg, gItem, gUser, rates;
  explicit Scratch(int dim)
      : user(dim + 1), pos(dim + 1), neg(dim + 1), gItem(dim), gUser(dim), rates(dim) {}
};

/**
 * Membership of (user, item) among the positives: a bitmap when it fits in kMaxBitmapBytes (one load per test),
 * else a binary search in the user's sorted row. Both give the same answers.
 */
class Positives {
 public:
  static constexpr int64_t kMaxBitmapBytes = int64_t{64} << 20;

  explicit Positives(const Csr& m) : m_(m), words_((static_cast<int64_t>(m.nCols) + 63) / 64) {
    if (static_cast<int64_t>(m.nRows) * words_ * 8 > kMaxBitmapBytes) return;
    bits_.assign(static_cast<size_t>(m.nRows) * words_, 0);
    for (int32_t r = 0; r < m.nRows; r++) {
      for (int32_t e = m.indptr[r]; e < m.indptr[r + 1]; e++) {
        if (m.data[e] > 0) bits_[r * words_ + (m.indices[e] >> 6)] |= uint64_t{1} << (m.indices[e] & 63);
      }
    }
  }

  RECSYS_INLINE bool contains(int32_t row, int32_t col) const {
    if (!bits_.empty()) return (bits_[row * words_ + (col >> 6)] >> (col & 63)) & 1;
    const int32_t* begin = m_.indices + m_.indptr[row];
    const int32_t* end = m_.indices + m_.indptr[row + 1];
    const int32_t* at = std::lower_bound(begin, end, col);
    return at != end && *at == col && m_.data[at - m_.indices] > 0;
  }

 private:
  const Csr& m_;
  int64_t words_;
  std::vector<uint64_t> bits_;
};

struct Shared {
  const Csr& interactions;
  const Positives& positives;
  const std::vector<int32_t>& exampleUser;
  const std::vector<int32_t>& nPositives;
  Side& items;
  Side& users;
  const WarpConfig& cfg;
  std::mutex regularizeLock;
};

template <bool kRegularize>
RECSYS_INLINE void warpUpdate(Shared& sh, int32_t user, int32_t pos, int32_t neg, double loss, Scratch& sc) {
  const int dim = sh.cfg.dim;
  const float lr = static_cast<float>(sh.cfg.learningRate);
  const float L = static_cast<float>(loss);
  // Gradients with respect to the representations, computed from the representations before the step.
  for (int j = 0; j < dim; j++) {
    sc.gItem[j] = L * sc.user[j];
    sc.gUser[j] = L * (sc.neg[j] - sc.pos[j]);
  }
  double rates = 0;
  // Positive item: gradient -L * user (lightfm applies it as "-loss * user_component").
  for (int j = 0; j < dim; j++) sc.gItem[j] = -sc.gItem[j];
  rates += update<kRegularize>(sh.items, pos, dim, sc.gItem.data(), -L, true, lr, sc.rates.data());
  for (int j = 0; j < dim; j++) sc.gItem[j] = -sc.gItem[j];
  rates += update<kRegularize>(sh.items, neg, dim, sc.gItem.data(), L, true, lr, sc.rates.data());
  // The user bias cancels in score_neg - score_pos: its gradient is zero, so it is not updated.
  rates += update<kRegularize>(sh.users, user, dim, sc.gUser.data(), 0.0f, false, lr, sc.rates.data());
  if (kRegularize) {
    const Csr& itf = sh.items.features;
    const Csr& uf = sh.users.features;
    const double count = static_cast<double>(dim + 1) * ((itf.indptr[pos + 1] - itf.indptr[pos]) +
                                                         (itf.indptr[neg + 1] - itf.indptr[neg])) +
                         static_cast<double>(dim) * (uf.indptr[user + 1] - uf.indptr[user]);
    const double avgRate = count > 0 ? rates / count : 0.0;
    sh.items.scale.store(sh.items.scale.load(std::memory_order_relaxed) / (1.0 + sh.items.alpha * avgRate),
                         std::memory_order_relaxed);
    sh.users.scale.store(sh.users.scale.load(std::memory_order_relaxed) / (1.0 + sh.users.alpha * avgRate),
                         std::memory_order_relaxed);
  }
}

template <bool kRegularize>
RECSYS_INLINE void runSliceImpl(Shared& sh, const int32_t* order, int64_t begin, int64_t end, Rng& rng,
                                const CancelFlag& cancel) {
  const int dim = sh.cfg.dim;
  const Csr& X = sh.interactions;
  const int32_t nItems = X.nCols;
  const int maxSampled = sh.cfg.maxSampled;
  Scratch sc(dim);
  for (int64_t i = begin; i < end; i++) {
    if ((i - begin) % kCancelCheckEvery == 0 && cancel.requested()) return;
    const int32_t e = order[i];
    const int32_t user = sh.exampleUser[e];
    if (sh.nPositives[user] >= nItems) continue;  // no negative exists
    const int32_t pos = X.indices[e];
    const double weight = X.data[e];
    representation(sh.users, user, dim, sc.user.data());
    representation(sh.items, pos, dim, sc.pos.data());
    const float posPred = predict(sc.user.data(), sc.pos.data(), dim);
    int sampled = 0;
    while (sampled < maxSampled) {
      const int32_t neg = static_cast<int32_t>(rng.below(static_cast<uint32_t>(nItems)));
      if (sh.positives.contains(user, neg)) continue;
      sampled++;
      const float negPred = scoreRow(sh.items, neg, dim, sc.user.data());
      if (negPred > posPred - 1.0f) {
        representation(sh.items, neg, dim, sc.neg.data());
        double loss = weight * std::log(std::max(1.0, std::floor(static_cast<double>(nItems - 1) / sampled)));
        if (loss > kMaxLoss) loss = kMaxLoss;
        warpUpdate<kRegularize>(sh, user, pos, neg, loss, sc);
        break;
      }
    }
    if (kRegularize && (sh.items.scale.load(std::memory_order_relaxed) < kMinScale ||
                        sh.users.scale.load(std::memory_order_relaxed) < kMinScale)) {
      std::lock_guard<std::mutex> lock(sh.regularizeLock);
      if (sh.items.scale.load(std::memory_order_relaxed) < kMinScale ||
          sh.users.scale.load(std::memory_order_relaxed) < kMinScale) {
        fold(sh.items, dim);
        fold(sh.users, dim);
      }
    }
  }
}

RECSYS_HOT void runSlice(Shared& sh, const int32_t* order, int64_t begin, int64_t end, Rng& rng,
                         const CancelFlag& cancel, bool regularize) {
  if (regularize) {
    runSliceImpl<true>(sh, order, begin, end, rng, cancel);
  } else {
    runSliceImpl<false>(sh, order, begin, end, rng, cancel);
  }
}

}  // namespace

void warpFit(const Csr& X, const Csr& itemFeatures, const Csr& userFeatures, const WarpConfig& cfg,
             const WarpParams& params, const CancelFlag& cancel, const WarpProgress& onEpoch) {
  const int dim = cfg.dim;
  Side items, users;
  items.features = itemFeatures;
  items.emb = params.itemEmbeddings;
  items.bias = params.itemBiases;
  items.nFeatures = params.nItemFeatures;
  items.alpha = cfg.itemAlpha;
  items.embAcc.assign(static_cast<size_t>(params.nItemFeatures) * dim, 1.0f);
  items.biasAcc.assign(static_cast<size_t>(params.nItemFeatures), 1.0f);
  users.features = userFeatures;
  users.emb = params.userEmbeddings;
  users.bias = params.userBiases;
  users.nFeatures = params.nUserFeatures;
  users.alpha = cfg.userAlpha;
  users.embAcc.assign(static_cast<size_t>(params.nUserFeatures) * dim, 1.0f);
  users.biasAcc.assign(static_cast<size_t>(params.nUserFeatures), 1.0f);

  // Examples: the positive entries, in CSR order, reshuffled (in place) at the start of every epoch.
  const int64_t nnz = X.nnz();
  std::vector<int32_t> exampleUser(static_cast<size_t>(nnz));
  std::vector<int32_t> nPositives(static_cast<size_t>(X.nRows), 0);
  std::vector<int32_t> order;
  order.reserve(static_cast<size_t>(nnz));
  for (int32_t u = 0; u < X.nRows; u++) {
    for (int32_t e = X.indptr[u]; e < X.indptr[u + 1]; e++) {
      exampleUser[e] = u;
      if (X.data[e] > 0) {
        order.push_back(e);
        nPositives[u]++;
      }
    }
  }
  const int64_t nExamples = static_cast<int64_t>(order.size());

  const int threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(ThreadPool::resolveThreads(cfg.threads), nExamples)));
  Rng shuffleRng(cfg.seed, kStreamShuffle);
  std::vector<Rng> rngs;
  for (int t = 0; t < threads; t++) rngs.emplace_back(cfg.seed, kStreamThread0 + static_cast<uint32_t>(t));
  const Positives positives(X);
  Shared sh{X, positives, exampleUser, nPositives, items, users, cfg, {}};
  const bool regularize = cfg.itemAlpha > 0 || cfg.userAlpha > 0;

  for (int epoch = 1; epoch <= cfg.epochs; epoch++) {
    cancel.check();
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = nExamples - 1; i > 0; i--) {
      const int64_t j = shuffleRng.below(static_cast<uint32_t>(i + 1));
      std::swap(order[i], order[j]);
    }
    ThreadPool::instance().run(threads, [&](int t) {
      const int64_t begin = nExamples * t / threads, end = nExamples * (t + 1) / threads;
      runSlice(sh, order.data(), begin, end, rngs[t], cancel, regularize);
    });
    cancel.check();
    fold(items, dim);
    fold(users, dim);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    onEpoch(epoch, seconds);
  }
}

}  // namespace recsys
