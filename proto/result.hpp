// Result<T>: a value or a sentence saying what went wrong. Used across module boundaries
// instead of exceptions (exceptions stay inside the module that caught them).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace parliament {

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  static Result failure(std::string why) { return Result(std::move(why), 0); }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const std::string& error() const { return error_; }

 private:
  Result(std::string why, int) : error_(std::move(why)) {}
  std::optional<T> value_;
  std::string error_;
};

// Result for operations that produce nothing but may fail.
struct Done {};
using Status = Result<Done>;
inline Status ok_status() { return Status(Done{}); }

}  // namespace parliament
