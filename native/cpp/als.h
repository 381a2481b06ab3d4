// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) as in benfred/implicit: confidence c = 1 + alpha * |w|,
// preference p = (w > 0); every half-iteration solves (YᵀY + λI + Yᵀ(Cᵤ - I)Y) xᵤ = YᵀCᵤpᵤ for each row, either by
// conjugate gradient warm-started from the previous row (cgSteps steps, never forming the matrix) or exactly by
// Cholesky (the reference). Rows without entries get zero factors.
#pragma once

#include <cstdint>
#include <functional>

#include "common.h"

namespace recsys {

struct AlsConfig {
  int factors = 64;
  double regularization = 0.01;
  double alpha = 1.0;
  int iterations = 15;
  int cgSteps = 3;
  bool cholesky = false;
  int threads = 0;
  bool computeLoss = false;
};

/** Thrown between units of work when the caller's control flag asks to stop. */
struct Cancelled {};

/** Reads the control word the JS wrapper sets to 1 on abort (an Int32Array read in place). */
class CancelFlag {
 public:
  explicit CancelFlag(const int32_t* word) : word_(word) {}
  bool requested() const { return word_ != nullptr && __atomic_load_n(word_, __ATOMIC_RELAXED) != 0; }
  void check() const {
    if (requested()) throw Cancelled();
  }

 private:
  const int32_t* word_;
};

using AlsProgress = std::function<void(int iteration, double loss, double seconds)>;

/** Fits in place: X (nUsers x k) and Y (nItems x k) hold the initial factors on entry. loss is NaN if not computed. */
void alsFit(const Csr& userItems, const AlsConfig& config, float* X, float* Y, const CancelFlag& cancel,
            const AlsProgress& onIteration);

/** G = YᵀY (k x k, row-major, double), computed with `threads` threads. */
void alsGramian(const float* Y, int64_t nRows, int k, int threads, double* G);

/** Fold-in: the row vector for the given entries against fixed factors Y, solved exactly (Cholesky). */
void alsSolveRow(const float* Y, int64_t nItems, int k, const int32_t* itemIds, const float* weights, int64_t n,
                 double regularization, double alpha, const double* gramian, float* out);

/** The normalised training loss (see als.cc). */
double alsLoss(const Csr& userItems, const float* X, const float* Y, int64_t nItems, const AlsConfig& config);

}  // namespace recsys
