// Argument checking for the N-API surface. Every check throws a JS TypeError (wrong type) or RangeError (bad value)
// with the same message text as the TypeScript wrapper (native/src/validate.ts), so both layers read alike.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace recsys {
namespace args {

/** Persistent references to every input of an AsyncWorker, so the GC keeps them alive while the worker runs. */
class Keep {
 public:
  void add(const Napi::Object& o) { refs_.push_back(Napi::Persistent(o)); }

 private:
  std::vector<Napi::ObjectReference> refs_;
};

[[noreturn]] void typeError(Napi::Env env, const std::string& message);
[[noreturn]] void rangeError(Napi::Env env, const std::string& message);

Napi::Object object(Napi::Env env, const Napi::Value& v, const std::string& name);
Napi::Function function(Napi::Env env, const Napi::Value& v, const std::string& name);
bool boolean(Napi::Env env, const Napi::Value& v, const std::string& name);
/** A JS number that is an integer in [min, max]. */
int64_t integer(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t min, int64_t max);
/** A finite JS number; with a bound, >= min (or > min when exclusive). */
double finite(Napi::Env env, const Napi::Value& v, const std::string& name);
double finiteAtLeast(Napi::Env env, const Napi::Value& v, const std::string& name, double min, bool exclusive);

/** Typed arrays, read in place. `length` receives the element count; keep (optional) retains the array. */
float* float32(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep);
int32_t* int32(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep);
double* float64(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep);
bool isNullish(const Napi::Value& v);

void expectLength(Napi::Env env, size_t actual, int64_t expected, const std::string& name);

struct CsrChecks {
  bool sortedRows = false;  // strictly increasing column ids within each row
  bool finiteData = false;
};

/** A { nRows, nCols, indptr, indices, data } object, fully checked (O(nnz)). */
Csr csr(Napi::Env env, const Napi::Value& v, const std::string& name, const CsrChecks& checks, Keep* keep);

}  // namespace args
}  // namespace recsys
