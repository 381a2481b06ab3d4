#include "args.h"

#include <cmath>
#include <sstream>

namespace recsys {
namespace args {
namespace {

/** JS's Number -> string for the integers and simple decimals that appear in messages. */
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    return std::to_string(static_cast<long long>(v));
  }
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

template <typename T, napi_typedarray_type kType>
T* typed(Napi::Env env, const Napi::Value& v, const std::string& name, const char* article, const char* type,
         size_t* length, Keep* keep) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType) {
    typeError(env, name + " must be " + article + " " + type);
  }
  auto array = v.As<Napi::TypedArrayOf<T>>();
  if (keep != nullptr) keep->add(array);
  *length = array.ElementLength();
  return array.Data();
}

}  // namespace

void typeError(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }
void rangeError(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

bool isNullish(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

Napi::Object object(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray() || v.IsFunction()) typeError(env, name + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Function function(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsFunction()) typeError(env, name + " must be a function");
  return v.As<Napi::Function>();
}

bool boolean(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) typeError(env, name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

int64_t integer(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t min, int64_t max) {
  if (!v.IsNumber()) typeError(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    rangeError(env, name + " must be an integer in [" + num(static_cast<double>(min)) + ", " +
                        num(static_cast<double>(max)) + "]");
  }
  return static_cast<int64_t>(d);
}

double finite(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) typeError(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) rangeError(env, name + " must be a finite number");
  return d;
}

double finiteAtLeast(Napi::Env env, const Napi::Value& v, const std::string& name, double min, bool exclusive) {
  if (!v.IsNumber()) typeError(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || (exclusive ? !(d > min) : !(d >= min))) {
    rangeError(env, name + " must be a finite number " + (exclusive ? "> " : ">= ") + num(min));
  }
  return d;
}

float* float32(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep) {
  return typed<float, napi_float32_array>(env, v, name, "a", "Float32Array", length, keep);
}

int32_t* int32(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep) {
  return typed<int32_t, napi_int32_array>(env, v, name, "an", "Int32Array", length, keep);
}

double* float64(Napi::Env env, const Napi::Value& v, const std::string& name, size_t* length, Keep* keep) {
  return typed<double, napi_float64_array>(env, v, name, "a", "Float64Array", length, keep);
}

void expectLength(Napi::Env env, size_t actual, int64_t expected, const std::string& name) {
  if (static_cast<int64_t>(actual) != expected) rangeError(env, name + " must have length " + num(static_cast<double>(expected)));
}

Csr csr(Napi::Env env, const Napi::Value& v, const std::string& name, const CsrChecks& checks, Keep* keep) {
  const Napi::Object o = object(env, v, name);
  constexpr int64_t kMaxDim = 2147483646;
  Csr m;
  m.nRows = static_cast<int32_t>(integer(env, o.Get("nRows"), name + ".nRows", 0, kMaxDim));
  m.nCols = static_cast<int32_t>(integer(env, o.Get("nCols"), name + ".nCols", 0, kMaxDim));
  size_t nIndptr = 0, nIndices = 0, nData = 0;
  m.indptr = int32(env, o.Get("indptr"), name + ".indptr", &nIndptr, keep);
  m.indices = int32(env, o.Get("indices"), name + ".indices", &nIndices, keep);
  m.data = float32(env, o.Get("data"), name + ".data", &nData, keep);
  expectLength(env, nIndptr, static_cast<int64_t>(m.nRows) + 1, name + ".indptr");
  expectLength(env, nData, static_cast<int64_t>(nIndices), name + ".data");
  bool ok = m.indptr[0] == 0 && static_cast<size_t>(m.indptr[m.nRows]) == nIndices;
  for (int32_t r = 0; ok && r < m.nRows; r++) ok = m.indptr[r] <= m.indptr[r + 1];
  if (!ok) {
    rangeError(env, name + ".indptr must start at 0, never decrease and end at " + num(static_cast<double>(nIndices)));
  }
  for (size_t i = 0; i < nIndices; i++) {
    const int32_t c = m.indices[i];
    if (c < 0 || c >= m.nCols) {
      rangeError(env, name + ".indices[" + num(static_cast<double>(i)) + "] = " + num(c) + " is out of range [0, " +
                          num(m.nCols) + ")");
    }
  }
  if (checks.sortedRows) {
    for (int32_t r = 0; r < m.nRows; r++) {
      for (int32_t i = m.indptr[r] + 1; i < m.indptr[r + 1]; i++) {
        if (m.indices[i] <= m.indices[i - 1]) {
          rangeError(env, name + ".indices must be strictly increasing within each row (row " + num(r) + ")");
        }
      }
    }
  }
  if (checks.finiteData) {
    for (size_t i = 0; i < nData; i++) {
      if (!std::isfinite(m.data[i])) {
        rangeError(env, name + ".data[" + num(static_cast<double>(i)) + "] = " + num(m.data[i]) + " is not finite");
      }
    }
  }
  return m;
}

}  // namespace args
}  // namespace recsys
