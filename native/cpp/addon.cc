// The N-API surface of the native core. The TypeScript wrapper (native/src) is its only caller: it validates and
// normalises input, allocates the outputs (typed arrays filled here in place) and turns these low-level functions
// into the public API. The checks below repeat the wrapper's, with the same messages, so that a direct call with
// bad arguments throws instead of reading out of bounds.
//
// Heavy work (ALS fit, WARP fit, batch top-K) runs in an AsyncWorker on a libuv thread plus the addon's thread pool
// and returns a Promise; the worker holds a persistent reference to every typed array it reads or writes until it
// completes. Errors raised on worker threads are collected there and turned into a rejection on the main thread.

#include <napi.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "als.h"
#include "args.h"
#include "pool.h"
#include "topk.h"
#include "warp.h"

namespace recsys {
namespace {

// Bumped whenever the functions below change shape; the wrapper refuses a stale build.
constexpr int kAbiVersion = 1;
constexpr int64_t kMaxFactors = 1024;
constexpr int64_t kMaxThreads = 256;
constexpr int64_t kMaxIterations = 100000;
constexpr int64_t kMaxSampled = 100000;
constexpr int64_t kMaxSeed = 4294967295LL;

using args::Keep;

struct Progress {
  int index;
  double loss;
  double seconds;
};

using Report = std::function<void(int index, double loss, double seconds)>;

/** Base of the fitting workers: a Promise, an optional per-iteration callback and a cancellation word. */
class FitWorker : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  FitWorker(Napi::Env env, const Napi::Function& callback, Keep&& keep, int32_t* control)
      : Napi::AsyncProgressQueueWorker<Progress>(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        keep_(std::move(keep)),
        control_(control) {
    if (!callback.IsEmpty()) callback_ = Napi::Persistent(callback);
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run(const CancelFlag& cancel, const Report& report) = 0;

  void Execute(const ExecutionProgress& progress) override {
    try {
      Run(CancelFlag(control_), [&progress](int index, double loss, double seconds) {
        const Progress p{index, loss, seconds};
        progress.Send(&p, 1);
      });
    } catch (const Cancelled&) {
      SetError("aborted");
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnProgress(const Progress* data, size_t count) override {
    if (callback_.IsEmpty() || data == nullptr) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; i++) {
      try {
        callback_.Call({Napi::Number::New(env, data[i].index), Napi::Number::New(env, data[i].loss),
                        Napi::Number::New(env, data[i].seconds)});
      } catch (const Napi::Error& e) {
        // A throwing callback stops the fit; the Promise rejects with what it threw.
        if (callbackError_.IsEmpty()) callbackError_ = Napi::Persistent(e.Value());
        __atomic_store_n(control_, 1, __ATOMIC_RELAXED);
      }
    }
  }

  void OnOK() override {
    if (!callbackError_.IsEmpty()) {
      deferred_.Reject(callbackError_.Value());
    } else {
      deferred_.Resolve(Env().Undefined());
    }
  }

  void OnError(const Napi::Error& e) override {
    deferred_.Reject(callbackError_.IsEmpty() ? e.Value() : callbackError_.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Keep keep_;
  int32_t* control_;
  Napi::FunctionReference callback_;
  Napi::ObjectReference callbackError_;
};

Napi::Function optionalCallback(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (args::isNullish(v)) return Napi::Function();
  return args::function(env, v, name);
}

int32_t* controlWord(Napi::Env env, const Napi::Object& o, Keep& keep) {
  size_t n = 0;
  int32_t* control = args::int32(env, o.Get("control"), "control", &n, &keep);
  args::expectLength(env, n, 1, "control");
  return control;
}

// ---------------------------------------------------------------------------------------------------------------
// ALS

class AlsFitWorker final : public FitWorker {
 public:
  AlsFitWorker(Napi::Env env, const Napi::Function& cb, Keep&& keep, int32_t* control, const Csr& userItems,
               const AlsConfig& cfg, float* X, float* Y)
      : FitWorker(env, cb, std::move(keep), control), userItems_(userItems), cfg_(cfg), X_(X), Y_(Y) {}

 protected:
  void Run(const CancelFlag& cancel, const Report& report) override { alsFit(userItems_, cfg_, X_, Y_, cancel, report); }

 private:
  Csr userItems_;
  AlsConfig cfg_;
  float* X_;
  float* Y_;
};

/** alsFit({ userItems, factors, regularization, alpha, iterations, cgSteps, cholesky, threads, computeLoss,
 *  userFactors, itemFactors, control }, onIteration?(iteration, loss, seconds)) -> Promise<undefined> */
Napi::Value AlsFit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = args::object(env, info[0], "options");
  const Napi::Function cb = optionalCallback(env, info[1], "onIteration");
  Keep keep;
  const Csr userItems = args::csr(env, o.Get("userItems"), "userItems", {false, true}, &keep);
  AlsConfig cfg;
  cfg.factors = static_cast<int>(args::integer(env, o.Get("factors"), "factors", 1, kMaxFactors));
  cfg.regularization = args::finiteAtLeast(env, o.Get("regularization"), "regularization", 0, false);
  cfg.alpha = args::finiteAtLeast(env, o.Get("alpha"), "alpha", 0, false);
  cfg.iterations = static_cast<int>(args::integer(env, o.Get("iterations"), "iterations", 0, kMaxIterations));
  cfg.cgSteps = static_cast<int>(args::integer(env, o.Get("cgSteps"), "cgSteps", 1, kMaxFactors));
  cfg.cholesky = args::boolean(env, o.Get("cholesky"), "cholesky");
  cfg.threads = static_cast<int>(args::integer(env, o.Get("threads"), "threads", 0, kMaxThreads));
  cfg.computeLoss = args::boolean(env, o.Get("computeLoss"), "computeLoss");
  size_t nX = 0, nY = 0;
  float* X = args::float32(env, o.Get("userFactors"), "userFactors", &nX, &keep);
  float* Y = args::float32(env, o.Get("itemFactors"), "itemFactors", &nY, &keep);
  args::expectLength(env, nX, static_cast<int64_t>(userItems.nRows) * cfg.factors, "userFactors");
  args::expectLength(env, nY, static_cast<int64_t>(userItems.nCols) * cfg.factors, "itemFactors");
  int32_t* control = controlWord(env, o, keep);
  auto* worker = new AlsFitWorker(env, cb, std::move(keep), control, userItems, cfg, X, Y);
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

/** alsGramian(itemFactors, factors, threads, out: Float64Array(factors²)) -> undefined (synchronous) */
Napi::Value AlsGramian(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t nY = 0, nOut = 0;
  const float* Y = args::float32(env, info[0], "itemFactors", &nY, nullptr);
  const int k = static_cast<int>(args::integer(env, info[1], "factors", 1, kMaxFactors));
  const int threads = static_cast<int>(args::integer(env, info[2], "threads", 0, kMaxThreads));
  double* out = args::float64(env, info[3], "out", &nOut, nullptr);
  if (nY % k != 0) args::rangeError(env, "itemFactors.length must be a multiple of " + std::to_string(k));
  args::expectLength(env, nOut, static_cast<int64_t>(k) * k, "out");
  alsGramian(Y, static_cast<int64_t>(nY / k), k, threads, out);
  return env.Undefined();
}

/** alsRecalculateUser({ itemFactors, factors, itemIds, weights, regularization, alpha, gramian?, out })
 *  -> undefined (synchronous; exact solve) */
Napi::Value AlsRecalculateUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = args::object(env, info[0], "options");
  size_t nY = 0, nIds = 0, nWeights = 0, nG = 0, nOut = 0;
  const float* Y = args::float32(env, o.Get("itemFactors"), "itemFactors", &nY, nullptr);
  const int k = static_cast<int>(args::integer(env, o.Get("factors"), "factors", 1, kMaxFactors));
  if (nY % k != 0) args::rangeError(env, "itemFactors.length must be a multiple of " + std::to_string(k));
  const int64_t nItems = static_cast<int64_t>(nY / k);
  const int32_t* ids = args::int32(env, o.Get("itemIds"), "itemIds", &nIds, nullptr);
  const float* weights = args::float32(env, o.Get("weights"), "weights", &nWeights, nullptr);
  args::expectLength(env, nWeights, static_cast<int64_t>(nIds), "weights");
  for (size_t i = 0; i < nIds; i++) {
    if (ids[i] < 0 || ids[i] >= nItems) {
      args::rangeError(env, "itemIds[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                " is out of range [0, " + std::to_string(nItems) + ")");
    }
    if (!std::isfinite(weights[i])) args::rangeError(env, "weights[" + std::to_string(i) + "] is not finite");
  }
  const double lambda = args::finiteAtLeast(env, o.Get("regularization"), "regularization", 0, false);
  const double alpha = args::finiteAtLeast(env, o.Get("alpha"), "alpha", 0, false);
  const double* G = nullptr;
  if (!args::isNullish(o.Get("gramian"))) {
    G = args::float64(env, o.Get("gramian"), "gramian", &nG, nullptr);
    args::expectLength(env, nG, static_cast<int64_t>(k) * k, "gramian");
  }
  float* out = args::float32(env, o.Get("out"), "out", &nOut, nullptr);
  args::expectLength(env, nOut, k, "out");
  alsSolveRow(Y, nItems, k, ids, weights, static_cast<int64_t>(nIds), lambda, alpha, G, out);
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------------------------------
// WARP

class WarpFitWorker final : public FitWorker {
 public:
  WarpFitWorker(Napi::Env env, const Napi::Function& cb, Keep&& keep, int32_t* control, const Csr& interactions,
                const Csr& itemFeatures, const Csr& userFeatures, const WarpConfig& cfg, const WarpParams& params)
      : FitWorker(env, cb, std::move(keep), control),
        interactions_(interactions),
        itemFeatures_(itemFeatures),
        userFeatures_(userFeatures),
        cfg_(cfg),
        params_(params) {}

 protected:
  void Run(const CancelFlag& cancel, const Report& report) override {
    warpFit(interactions_, itemFeatures_, userFeatures_, cfg_, params_, cancel,
            [&report](int epoch, double seconds) { report(epoch, std::numeric_limits<double>::quiet_NaN(), seconds); });
  }

 private:
  Csr interactions_, itemFeatures_, userFeatures_;
  WarpConfig cfg_;
  WarpParams params_;
};

/** warpFit({ interactions, itemFeatures, userFeatures, noComponents, learningRate, maxSampled, itemAlpha,
 *  userAlpha, epochs, seed, threads, itemEmbeddings, itemBiases, userEmbeddings, userBiases, control },
 *  onEpoch?(epoch, NaN, seconds)) -> Promise<undefined> */
Napi::Value WarpFit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = args::object(env, info[0], "options");
  const Napi::Function cb = optionalCallback(env, info[1], "onEpoch");
  Keep keep;
  const Csr X = args::csr(env, o.Get("interactions"), "interactions", {true, true}, &keep);
  const Csr itemF = args::csr(env, o.Get("itemFeatures"), "itemFeatures", {false, true}, &keep);
  const Csr userF = args::csr(env, o.Get("userFeatures"), "userFeatures", {false, true}, &keep);
  if (itemF.nRows != X.nCols) args::rangeError(env, "itemFeatures.nRows must be " + std::to_string(X.nCols));
  if (userF.nRows != X.nRows) args::rangeError(env, "userFeatures.nRows must be " + std::to_string(X.nRows));
  WarpConfig cfg;
  cfg.dim = static_cast<int>(args::integer(env, o.Get("noComponents"), "noComponents", 1, kMaxFactors));
  cfg.learningRate = args::finiteAtLeast(env, o.Get("learningRate"), "learningRate", 0, true);
  cfg.maxSampled = static_cast<int>(args::integer(env, o.Get("maxSampled"), "maxSampled", 1, kMaxSampled));
  cfg.itemAlpha = args::finiteAtLeast(env, o.Get("itemAlpha"), "itemAlpha", 0, false);
  cfg.userAlpha = args::finiteAtLeast(env, o.Get("userAlpha"), "userAlpha", 0, false);
  cfg.epochs = static_cast<int>(args::integer(env, o.Get("epochs"), "epochs", 0, kMaxIterations));
  cfg.seed = static_cast<uint32_t>(args::integer(env, o.Get("seed"), "seed", 0, kMaxSeed));
  cfg.threads = static_cast<int>(args::integer(env, o.Get("threads"), "threads", 0, kMaxThreads));
  WarpParams params;
  size_t n = 0;
  params.nItemFeatures = itemF.nCols;
  params.nUserFeatures = userF.nCols;
  params.itemEmbeddings = args::float32(env, o.Get("itemEmbeddings"), "itemEmbeddings", &n, &keep);
  args::expectLength(env, n, static_cast<int64_t>(itemF.nCols) * cfg.dim, "itemEmbeddings");
  params.itemBiases = args::float32(env, o.Get("itemBiases"), "itemBiases", &n, &keep);
  args::expectLength(env, n, itemF.nCols, "itemBiases");
  params.userEmbeddings = args::float32(env, o.Get("userEmbeddings"), "userEmbeddings", &n, &keep);
  args::expectLength(env, n, static_cast<int64_t>(userF.nCols) * cfg.dim, "userEmbeddings");
  params.userBiases = args::float32(env, o.Get("userBiases"), "userBiases", &n, &keep);
  args::expectLength(env, n, userF.nCols, "userBiases");
  int32_t* control = controlWord(env, o, keep);
  auto* worker = new WarpFitWorker(env, cb, std::move(keep), control, X, itemF, userF, cfg, params);
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// ---------------------------------------------------------------------------------------------------------------
// Top-K

struct Vectors {
  const float* data;
  int64_t n;
};

/** A rows x dim matrix given as a flat Float32Array. */
Vectors matrix(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t dim, Keep* keep) {
  size_t len = 0;
  const float* data = args::float32(env, v, name, &len, keep);
  if (len % static_cast<size_t>(dim) != 0) args::rangeError(env, name + ".length must be a multiple of " + std::to_string(dim));
  if (len == 0) args::rangeError(env, name + " must not be empty");
  return Vectors{data, static_cast<int64_t>(len / static_cast<size_t>(dim))};
}

const float* optionalFloats(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t length, Keep* keep) {
  if (args::isNullish(v)) return nullptr;
  size_t n = 0;
  const float* data = args::float32(env, v, name, &n, keep);
  args::expectLength(env, n, length, name);
  return data;
}

struct IdList {
  const int32_t* ids = nullptr;
  size_t n = 0;
};

/** An optional Int32Array of item ids, each in [0, nItems). */
IdList excludeList(Napi::Env env, const Napi::Value& v, int64_t nItems) {
  IdList list;
  if (args::isNullish(v)) return list;
  list.ids = args::int32(env, v, "exclude", &list.n, nullptr);
  for (size_t i = 0; i < list.n; i++) {
    if (list.ids[i] < 0 || list.ids[i] >= nItems) {
      args::rangeError(env, "exclude[" + std::to_string(i) + "] = " + std::to_string(list.ids[i]) +
                                " is out of range [0, " + std::to_string(nItems) + ")");
    }
  }
  return list;
}

void markExcluded(const IdList& list, float* scores) {
  for (size_t i = 0; i < list.n; i++) scores[list.ids[i]] = std::numeric_limits<float>::quiet_NaN();
}

struct Outputs {
  int32_t* ids;
  float* scores;
};

Outputs outputs(Napi::Env env, const Napi::Value& ids, const Napi::Value& scores, int64_t length, Keep* keep) {
  size_t nIds = 0, nScores = 0;
  Outputs out;
  out.ids = args::int32(env, ids, "outIds", &nIds, keep);
  args::expectLength(env, nIds, length, "outIds");
  out.scores = args::float32(env, scores, "outScores", &nScores, keep);
  args::expectLength(env, nScores, length, "outScores");
  return out;
}

thread_local std::vector<float> tlsScores;
thread_local std::vector<Scored> tlsHeap;

/** topK(userVector, itemVectors, itemBiases?, userBias, exclude?, k, outIds, outScores) -> count (synchronous) */
Napi::Value TopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t dim = 0;
  const float* u = args::float32(env, info[0], "userVector", &dim, nullptr);
  if (dim == 0) args::rangeError(env, "userVector must not be empty");
  const Vectors items = matrix(env, info[1], "itemVectors", static_cast<int64_t>(dim), nullptr);
  const float* biases = optionalFloats(env, info[2], "itemBiases", items.n, nullptr);
  const float userBias = static_cast<float>(args::finite(env, info[3], "userBias"));
  const IdList exclude = excludeList(env, info[4], items.n);
  const int64_t k = args::integer(env, info[5], "k", 1, items.n);
  const Outputs out = outputs(env, info[6], info[7], k, nullptr);
  if (static_cast<int64_t>(tlsScores.size()) < items.n) tlsScores.resize(static_cast<size_t>(items.n));
  if (static_cast<int64_t>(tlsHeap.size()) < k) tlsHeap.resize(static_cast<size_t>(k));
  scoreAll(u, items.data, items.n, static_cast<int>(dim), biases, userBias, tlsScores.data());
  markExcluded(exclude, tlsScores.data());
  const int64_t count = selectTopK(tlsScores.data(), items.n, k, tlsHeap.data(), out.ids, out.scores);
  return Napi::Number::New(env, static_cast<double>(count));
}

/** similarItems(itemVectors, dim, itemId, k, exclude?, outIds, outScores) -> count (synchronous; cosine) */
Napi::Value SimilarItems(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t dim = args::integer(env, info[1], "dim", 1, 1 << 20);
  const Vectors items = matrix(env, info[0], "itemVectors", dim, nullptr);
  const int64_t itemId = args::integer(env, info[2], "itemId", 0, items.n - 1);
  const int64_t k = args::integer(env, info[3], "k", 1, items.n);
  const IdList exclude = excludeList(env, info[4], items.n);
  const Outputs out = outputs(env, info[5], info[6], k, nullptr);
  if (static_cast<int64_t>(tlsScores.size()) < items.n) tlsScores.resize(static_cast<size_t>(items.n));
  if (static_cast<int64_t>(tlsHeap.size()) < k) tlsHeap.resize(static_cast<size_t>(k));
  cosineAll(items.data, items.n, static_cast<int>(dim), itemId, tlsScores.data());
  markExcluded(exclude, tlsScores.data());
  const int64_t count = selectTopK(tlsScores.data(), items.n, k, tlsHeap.data(), out.ids, out.scores);
  return Napi::Number::New(env, static_cast<double>(count));
}

class BatchTopKWorker final : public Napi::AsyncWorker {
 public:
  BatchTopKWorker(Napi::Env env, Keep&& keep, const BatchTopKArgs& a)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), keep_(std::move(keep)), args_(a) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      batchTopK(args_);
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Keep keep_;
  BatchTopKArgs args_;
};

/** batchTopK({ userVectors, itemVectors, dim, itemBiases?, userBiases?, exclude?, users?, k, threads, outIds,
 *  outScores }) -> Promise<undefined>; rows of the outputs are -1 / -Infinity padded */
Napi::Value BatchTopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Object o = args::object(env, info[0], "options");
  Keep keep;
  BatchTopKArgs a{};
  const int64_t dim = args::integer(env, o.Get("dim"), "dim", 1, 1 << 20);
  a.dim = static_cast<int>(dim);
  const Vectors users = matrix(env, o.Get("userVectors"), "userVectors", dim, &keep);
  const Vectors items = matrix(env, o.Get("itemVectors"), "itemVectors", dim, &keep);
  a.userVectors = users.data;
  a.nUsers = users.n;
  a.itemVectors = items.data;
  a.nItems = items.n;
  a.itemBiases = optionalFloats(env, o.Get("itemBiases"), "itemBiases", items.n, &keep);
  a.userBiases = optionalFloats(env, o.Get("userBiases"), "userBiases", users.n, &keep);
  if (!args::isNullish(o.Get("exclude"))) {
    a.exclude = args::csr(env, o.Get("exclude"), "exclude", {false, false}, &keep);
    a.hasExclude = true;
    if (a.exclude.nRows != users.n) args::rangeError(env, "exclude.nRows must be " + std::to_string(users.n));
    if (a.exclude.nCols != items.n) args::rangeError(env, "exclude.nCols must be " + std::to_string(items.n));
  }
  a.nOut = users.n;
  if (!args::isNullish(o.Get("users"))) {
    size_t n = 0;
    a.users = args::int32(env, o.Get("users"), "users", &n, &keep);
    for (size_t i = 0; i < n; i++) {
      if (a.users[i] < 0 || a.users[i] >= users.n) {
        args::rangeError(env, "users[" + std::to_string(i) + "] = " + std::to_string(a.users[i]) +
                                  " is out of range [0, " + std::to_string(users.n) + ")");
      }
    }
    a.nOut = static_cast<int64_t>(n);
  }
  a.k = args::integer(env, o.Get("k"), "k", 1, items.n);
  a.threads = static_cast<int>(args::integer(env, o.Get("threads"), "threads", 0, kMaxThreads));
  const Outputs out = outputs(env, o.Get("outIds"), o.Get("outScores"), a.nOut * a.k, &keep);
  a.outIds = out.ids;
  a.outScores = out.scores;
  auto* worker = new BatchTopKWorker(env, std::move(keep), a);
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("hardwareConcurrency", Napi::Number::New(env, ThreadPool::resolveThreads(0)));
  exports.Set("alsFit", Napi::Function::New(env, AlsFit, "alsFit"));
  exports.Set("alsGramian", Napi::Function::New(env, AlsGramian, "alsGramian"));
  exports.Set("alsRecalculateUser", Napi::Function::New(env, AlsRecalculateUser, "alsRecalculateUser"));
  exports.Set("warpFit", Napi::Function::New(env, WarpFit, "warpFit"));
  exports.Set("topK", Napi::Function::New(env, TopK, "topK"));
  exports.Set("similarItems", Napi::Function::New(env, SimilarItems, "similarItems"));
  exports.Set("batchTopK", Napi::Function::New(env, BatchTopK, "batchTopK"));
  return exports;
}

}  // namespace
}  // namespace recsys

static Napi::Object InitRecsysNative(Napi::Env env, Napi::Object exports) { return recsys::Init(env, exports); }

NODE_API_MODULE(recsys_native, InitRecsysNative)
