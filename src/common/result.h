// Result<T>: the value of an operation that can fail in an expected way.
// Failures are values, never exceptions, on the request path. ErrorCode is a small closed set;
// error_map.h turns one into an HTTP status, a WebSocket error and a CLI exit code.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace parley {

enum class ErrorCode {
  kInvalidArgument,       // 400: malformed JSON, wrong types, missing or out-of-range fields
  kUnauthenticated,       // 401
  kForbidden,             // 403
  kNotFound,              // 404
  kConflict,              // 409
  kPayloadTooLarge,       // 413
  kUnsupportedMediaType,  // 415
  kRateLimited,           // 429
  kUnavailable,           // 503
  kInternal,              // 500: a bug or a broken store; never bad input
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int64_t retry_after_s = 0;  // kRateLimited: seconds until a retry can succeed
};

inline Error MakeError(ErrorCode code, std::string message) { return Error{code, std::move(message), 0}; }
inline Error RateLimited(int64_t retry_after_s) {
  return Error{ErrorCode::kRateLimited, "too many requests; retry later", retry_after_s};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace parley

// Returns early from the enclosing function with the error of a failed Result.
#define PARLEY_TRY(expr)                        \
  do {                                          \
    auto _parley_r = (expr);                    \
    if (!_parley_r.ok()) return _parley_r.error(); \
  } while (0)
