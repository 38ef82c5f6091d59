// Password hashing: argon2id through libsodium's crypto_pwhash_str, at OWASP's recommended
// parameters or stronger (memory >= 19 MiB, iterations >= 2, parallelism 1). CPU-heavy: call from
// a blocking pool, never an I/O thread. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::auth {

struct PasswordParams {
  unsigned long long opslimit = 2;
  size_t memlimit = 19 * 1024 * 1024;
};

// The encoded argon2id hash ($argon2id$v=19$m=…). kInternal only if memory runs out.
Result<std::string> HashPassword(std::string_view password, const PasswordParams& params);
// True iff `password` matches `encoded`. A malformed `encoded` is a mismatch.
bool VerifyPassword(std::string_view password, const std::string& encoded);

}  // namespace parley::auth
