// Hybrid matrix factorisation trained with the WARP loss, as in lyst/lightfm (fit_warp): a user's (item's)
// representation is the weighted sum of its feature embeddings plus the sum of its feature biases; for each
// positive (user, item) in a shuffled order, negatives are drawn uniformly (the user's positives skipped) until
// one violates the margin (score_neg > score_pos - 1) or maxSampled were drawn; the update is scaled by
// weight * log(floor((nItems - 1) / sampled)) (clipped at 10), with Adagrad per parameter and lazy L2 through a
// scale factor per side. Threads run Hogwild over contiguous slices of the shuffled order, each with its own RNG.
#pragma once

#include <cstdint>
#include <functional>

#include "als.h"  // CancelFlag, Cancelled
#include "common.h"

namespace recsys {

struct WarpConfig {
  int dim = 64;
  double learningRate = 0.05;
  int maxSampled = 10;
  double itemAlpha = 0.0;
  double userAlpha = 0.0;
  int epochs = 30;
  uint32_t seed = 0;
  int threads = 0;
};

/** Parameters, updated in place. Feature f's embedding is row f of the embedding matrix (dim floats). */
struct WarpParams {
  float* itemEmbeddings;
  float* itemBiases;
  float* userEmbeddings;
  float* userBiases;
  int64_t nItemFeatures;  // rows of itemEmbeddings = itemFeatures.nCols
  int64_t nUserFeatures;  // rows of userEmbeddings = userFeatures.nCols
};

using WarpProgress = std::function<void(int epoch, double seconds)>;

/**
 * interactions: users x items (entries with data > 0 are the positives, data is the weight);
 * itemFeatures: items x item features, userFeatures: users x user features (identity columns included by the caller).
 */
void warpFit(const Csr& interactions, const Csr& itemFeatures, const Csr& userFeatures, const WarpConfig& config,
             const WarpParams& params, const CancelFlag& cancel, const WarpProgress& onEpoch);

}  // namespace recsys
