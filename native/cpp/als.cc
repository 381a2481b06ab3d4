#include "als.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"

namespace recsys {
namespace {

constexpr int64_t kRowChunk = 32;

/** An owned CSR (the item-user transpose). */
struct OwnedCsr {
  std::vector<int32_t> indptr, indices;
  std::vector<float> data;
  Csr view(int32_t nRows, int32_t nCols) const {
    Csr c;
    c.nRows = nRows;
    c.nCols = nCols;
    c.indptr = indptr.data();
    c.indices = indices.data();
    c.data = data.data();
    return c;
  }
};

OwnedCsr transpose(const Csr& m) {
  OwnedCsr t;
  const int64_t nnz = m.nnz();
  t.indptr.assign(static_cast<size_t>(m.nCols) + 1, 0);
  t.indices.resize(static_cast<size_t>(nnz));
  t.data.resize(static_cast<size_t>(nnz));
  for (int64_t i = 0; i < nnz; i++) t.indptr[static_cast<size_t>(m.indices[i]) + 1]++;
  for (int32_t c = 0; c < m.nCols; c++) t.indptr[c + 1] += t.indptr[c];
  std::vector<int32_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (int32_t r = 0; r < m.nRows; r++) {
    for (int32_t i = m.indptr[r]; i < m.indptr[r + 1]; i++) {
      const int32_t at = next[m.indices[i]]++;
      t.indices[at] = r;
      t.data[at] = m.data[i];
    }
  }
  return t;
}

/** Accumulates the upper triangle of Σ yᵀy over rows [begin, end) into G (double, k x k), four rows at a time. */
RECSYS_HOT void gramianRows(const float* Y, int64_t begin, int64_t end, int k, double* G, double* rows4) {
  double* y0 = rows4;
  double* y1 = rows4 + k;
  double* y2 = rows4 + 2 * k;
  double* y3 = rows4 + 3 * k;
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    for (int a = 0; a < k; a++) {
      y0[a] = Y[(r + 0) * k + a];
      y1[a] = Y[(r + 1) * k + a];
      y2[a] = Y[(r + 2) * k + a];
      y3[a] = Y[(r + 3) * k + a];
    }
    for (int a = 0; a < k; a++) {
      const double a0 = y0[a], a1 = y1[a], a2 = y2[a], a3 = y3[a];
      double* g = G + static_cast<size_t>(a) * k;
      for (int b = a; b < k; b++) g[b] += ((a0 * y0[b] + a1 * y1[b]) + (a2 * y2[b] + a3 * y3[b]));
    }
  }
  for (; r < end; r++) {
    for (int a = 0; a < k; a++) y0[a] = Y[r * k + a];
    for (int a = 0; a < k; a++) {
      const double a0 = y0[a];
      double* g = G + static_cast<size_t>(a) * k;
      for (int b = a; b < k; b++) g[b] += a0 * y0[b];
    }
  }
}

/** CG for rows [begin, end): implicit's _least_squares_cg, without forming YᵀCᵤY. A0 = YᵀY + λI (float). */
RECSYS_HOT void solveRowsCg(const Csr& C, float* X, const float* Y, const float* A0, int k, float alpha,
                            int cgSteps, int64_t begin, int64_t end, float* scratch) {
  float* r = scratch;
  float* p = scratch + k;
  float* Ap = scratch + 2 * k;
  for (int64_t u = begin; u < end; u++) {
    float* x = X + u * k;
    const int32_t rowBegin = C.indptr[u], rowEnd = C.indptr[u + 1];
    if (rowBegin == rowEnd) {
      std::fill(x, x + k, 0.0f);
      continue;
    }
    // r = YᵀCᵤpᵤ - (YᵀCᵤY + λI) x
    matvec(A0, x, r, k);
    for (int j = 0; j < k; j++) r[j] = -r[j];
    for (int32_t e = rowBegin; e < rowEnd; e++) {
      const float* y = Y + static_cast<int64_t>(C.indices[e]) * k;
      const float w = C.data[e];
      const float cm1 = alpha * std::fabs(w);
      const float b = w > 0 ? 1.0f + cm1 : 0.0f;
      axpy(b - cm1 * dot(y, x, k), y, r, k);
    }
    std::copy(r, r + k, p);
    float rsold = dot(r, r, k);
    if (rsold < 1e-20f) continue;
    for (int step = 0; step < cgSteps; step++) {
      matvec(A0, p, Ap, k);
      for (int32_t e = rowBegin; e < rowEnd; e++) {
        const float* y = Y + static_cast<int64_t>(C.indices[e]) * k;
        const float cm1 = alpha * std::fabs(C.data[e]);
        axpy(cm1 * dot(y, p, k), y, Ap, k);
      }
      const float stepSize = rsold / dot(p, Ap, k);
      axpy(stepSize, p, x, k);
      axpy(-stepSize, Ap, r, k);
      const float rsnew = dot(r, r, k);
      if (rsnew < 1e-20f) break;
      xpby(r, rsnew / rsold, p, k);
      rsold = rsnew;
    }
  }
}

/** In-place Cholesky of the lower triangle of A (k x k, double) and solve A x = b; x overwrites b. */
void choleskySolve(double* A, double* b, int k) {
  for (int j = 0; j < k; j++) {
    double* Aj = A + static_cast<size_t>(j) * k;
    double s = Aj[j];
    for (int m = 0; m < j; m++) s -= Aj[m] * Aj[m];
    // Guard against a singular system (regularization 0 with too few entries): clamp the pivot.
    const double floorValue = 1e-12 * std::max(1.0, std::fabs(Aj[j]));
    if (!(s > floorValue)) s = floorValue;
    const double d = std::sqrt(s);
    Aj[j] = d;
    for (int i = j + 1; i < k; i++) {
      double* Ai = A + static_cast<size_t>(i) * k;
      double t = Ai[j];
      for (int m = 0; m < j; m++) t -= Ai[m] * Aj[m];
      Ai[j] = t / d;
    }
  }
  for (int i = 0; i < k; i++) {  // L z = b
    const double* Ai = A + static_cast<size_t>(i) * k;
    double t = b[i];
    for (int m = 0; m < i; m++) t -= Ai[m] * b[m];
    b[i] = t / Ai[i];
  }
  for (int i = k - 1; i >= 0; i--) {  // Lᵀ x = z
    double t = b[i];
    for (int m = i + 1; m < k; m++) t -= A[static_cast<size_t>(m) * k + i] * b[m];
    b[i] = t / A[static_cast<size_t>(i) * k + i];
  }
}

/** Exact solve of one row: A = G + λI + Σ (c-1) y yᵀ, b = Σ p c y. G is YᵀY without λ (double, full). */
void solveRowCholesky(const float* Y, int k, const int32_t* ids, const float* weights, int64_t n, double lambda,
                      double alpha, const double* G, double* A, double* b, double* yd, float* out) {
  std::copy(G, G + static_cast<size_t>(k) * k, A);
  for (int a = 0; a < k; a++) A[static_cast<size_t>(a) * k + a] += lambda;
  std::fill(b, b + k, 0.0);
  for (int64_t e = 0; e < n; e++) {
    const float* y = Y + static_cast<int64_t>(ids[e]) * k;
    const double w = weights[e];
    const double cm1 = alpha * std::fabs(w);
    const double coef = w > 0 ? 1.0 + cm1 : 0.0;
    for (int a = 0; a < k; a++) yd[a] = y[a];
    for (int a = 0; a < k; a++) {
      const double s = cm1 * yd[a];
      double* Aa = A + static_cast<size_t>(a) * k;
      for (int c = 0; c <= a; c++) Aa[c] += s * yd[c];
      b[a] += coef * yd[a];
    }
  }
  choleskySolve(A, b, k);
  for (int a = 0; a < k; a++) out[a] = static_cast<float>(b[a]);
}

/** Participant p of n takes rows [p*N/n, (p+1)*N/n): static, so per-participant partial sums are deterministic. */
inline int64_t partBegin(int64_t N, int p, int n) { return N * p / n; }

void gramianParallel(const float* Y, int64_t nRows, int k, int threads, double* G) {
  const int n = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, nRows / 64 + 1)));
  const size_t kk = static_cast<size_t>(k) * k;
  std::vector<double> partial(kk * n, 0.0);
  std::vector<double> rows(static_cast<size_t>(4) * k * n);
  ThreadPool::instance().run(n, [&](int p) {
    gramianRows(Y, partBegin(nRows, p, n), partBegin(nRows, p + 1, n), k, partial.data() + kk * p,
                rows.data() + static_cast<size_t>(4) * k * p);
  });
  for (size_t i = 0; i < kk; i++) {
    double s = 0;
    for (int p = 0; p < n; p++) s += partial[kk * p + i];
    G[i] = s;
  }
  for (int a = 0; a < k; a++)
    for (int b = 0; b < a; b++) G[static_cast<size_t>(a) * k + b] = G[static_cast<size_t>(b) * k + a];
}

/** One half-iteration: solve every row of X against fixed Y. */
void solveSide(const Csr& C, float* X, const float* Y, int64_t nY, const AlsConfig& cfg, int threads,
               const CancelFlag& cancel) {
  const int k = cfg.factors;
  const size_t kk = static_cast<size_t>(k) * k;
  std::vector<double> G(kk);
  gramianParallel(Y, nY, k, threads, G.data());

  std::vector<float> A0(kk);
  for (size_t i = 0; i < kk; i++) A0[i] = static_cast<float>(G[i]);
  for (int a = 0; a < k; a++) A0[static_cast<size_t>(a) * k + a] = static_cast<float>(G[static_cast<size_t>(a) * k + a] + cfg.regularization);

  const int64_t nRows = C.nRows;
  const int n = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, (nRows + kRowChunk - 1) / kRowChunk)));
  std::atomic<int64_t> nextRow{0};
  const float alpha = static_cast<float>(cfg.alpha);
  ThreadPool::instance().run(n, [&](int) {
    // Per-participant scratch, allocated once per half-iteration, never in the row loop.
    std::vector<float> scratch(static_cast<size_t>(3) * k);
    std::vector<double> A, b, yd;
    if (cfg.cholesky) {
      A.resize(kk);
      b.resize(k);
      yd.resize(k);
    }
    for (;;) {
      if (cancel.requested()) return;
      const int64_t begin = nextRow.fetch_add(kRowChunk, std::memory_order_relaxed);
      if (begin >= nRows) return;
      const int64_t end = std::min(nRows, begin + kRowChunk);
      if (!cfg.cholesky) {
        solveRowsCg(C, X, Y, A0.data(), k, alpha, cfg.cgSteps, begin, end, scratch.data());
        continue;
      }
      for (int64_t u = begin; u < end; u++) {
        const int32_t rb = C.indptr[u], re = C.indptr[u + 1];
        float* x = X + u * k;
        if (rb == re) {
          std::fill(x, x + k, 0.0f);
          continue;
        }
        solveRowCholesky(Y, k, C.indices + rb, C.data + rb, re - rb, cfg.regularization, cfg.alpha, G.data(),
                         A.data(), b.data(), yd.data(), x);
      }
    }
  });
  cancel.check();
}

}  // namespace

void alsGramian(const float* Y, int64_t nRows, int k, int threads, double* G) {
  gramianParallel(Y, nRows, k, ThreadPool::resolveThreads(threads), G);
}

void alsSolveRow(const float* Y, int64_t nItems, int k, const int32_t* itemIds, const float* weights, int64_t n,
                 double regularization, double alpha, const double* gramian, float* out) {
  const size_t kk = static_cast<size_t>(k) * k;
  std::vector<double> G;
  if (gramian == nullptr) {
    G.resize(kk);
    gramianParallel(Y, nItems, k, 1, G.data());
    gramian = G.data();
  }
  if (n == 0) {
    std::fill(out, out + k, 0.0f);
    return;
  }
  std::vector<double> A(kk), b(k), yd(k);
  solveRowCholesky(Y, k, itemIds, weights, n, regularization, alpha, gramian, A.data(), b.data(), yd.data(), out);
}

double alsLoss(const Csr& C, const float* X, const float* Y, int64_t nItems, const AlsConfig& cfg) {
  // L = [Σ_{u,i} c_ui (p_ui - xᵤ·yᵢ)² + λ(Σ|xᵤ|² + Σ|yᵢ|²)] / Σ_{u,i} c_ui, over every (user, item) cell, with
  // c = 1 and p = 0 off the entries; the zero cells are summed through xᵤᵀ(YᵀY)xᵤ.
  const int k = cfg.factors;
  const int threads = ThreadPool::resolveThreads(cfg.threads);
  std::vector<double> G(static_cast<size_t>(k) * k);
  gramianParallel(Y, nItems, k, threads, G.data());
  const int64_t nUsers = C.nRows;
  const int n = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, nUsers / 64 + 1)));
  std::vector<double> lossParts(n, 0.0), confParts(n, 0.0);
  ThreadPool::instance().run(n, [&](int p) {
    double loss = 0, conf = 0;
    std::vector<double> xd(k);
    for (int64_t u = partBegin(nUsers, p, n); u < partBegin(nUsers, p + 1, n); u++) {
      const float* x = X + u * k;
      for (int a = 0; a < k; a++) xd[a] = x[a];
      double quad = 0, norm = 0;
      for (int a = 0; a < k; a++) {
        const double* g = G.data() + static_cast<size_t>(a) * k;
        double t = 0;
        for (int b = 0; b < k; b++) t += g[b] * xd[b];
        quad += xd[a] * t;
        norm += xd[a] * xd[a];
      }
      loss += quad + cfg.regularization * norm;
      for (int32_t e = C.indptr[u]; e < C.indptr[u + 1]; e++) {
        const float* y = Y + static_cast<int64_t>(C.indices[e]) * k;
        double s = 0;
        for (int a = 0; a < k; a++) s += xd[a] * y[a];
        const double w = C.data[e];
        const double cm1 = cfg.alpha * std::fabs(w);
        const double pc = w > 0 ? 1.0 + cm1 : 0.0;  // p * c (p is 0 or 1, so p² = p)
        loss += cm1 * s * s - 2.0 * pc * s + pc;
        conf += cm1;
      }
    }
    lossParts[p] = loss;
    confParts[p] = conf;
  });
  double loss = 0, conf = 0;
  for (int p = 0; p < n; p++) {
    loss += lossParts[p];
    conf += confParts[p];
  }
  double itemNorm = 0;
  for (int64_t i = 0; i < nItems * k; i++) itemNorm += static_cast<double>(Y[i]) * Y[i];
  loss += cfg.regularization * itemNorm;
  return loss / (static_cast<double>(nUsers) * static_cast<double>(nItems) + conf);
}

void alsFit(const Csr& userItems, const AlsConfig& cfg, float* X, float* Y, const CancelFlag& cancel,
            const AlsProgress& onIteration) {
  const int threads = ThreadPool::resolveThreads(cfg.threads);
  const OwnedCsr itemUsersOwned = transpose(userItems);
  const Csr itemUsers = itemUsersOwned.view(userItems.nCols, userItems.nRows);
  for (int it = 1; it <= cfg.iterations; it++) {
    cancel.check();
    const auto start = std::chrono::steady_clock::now();
    solveSide(userItems, X, Y, userItems.nCols, cfg, threads, cancel);
    solveSide(itemUsers, Y, X, userItems.nRows, cfg, threads, cancel);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double loss =
        cfg.computeLoss ? alsLoss(userItems, X, Y, userItems.nCols, cfg) : std::numeric_limits<double>::quiet_NaN();
    onIteration(it, loss, seconds);
  }
}

}  // namespace recsys
