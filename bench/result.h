// Result<T>: a value or an Error, for failures the bench expects (server down, signup refused).
// Exceptions are kept for programmer errors only.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace parley::bench {

// Exit codes of parley-bench; main() returns the code of the first error it meets.
enum class ExitCode : int {
  kOk = 0,
  kUsage = 1,              // bad command line
  kServerUnreachable = 2,  // nothing listening, or not a Parley server
  kSetupFailed = 3,        // signup, login, WebSocket upgrade or pairing failed
  kRunIncomplete = 4,      // the run finished but sends failed or messages went missing
};

struct Error {
  ExitCode code = ExitCode::kSetupFailed;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}    // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status Ok() { return Unit{}; }

}  // namespace parley::bench
