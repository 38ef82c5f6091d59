#include "sdk/crypto/safety_number.h"

#include <algorithm>
#include <cstdio>

#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {

std::string FingerprintHalf(std::string_view key, std::string_view identifier) {
  std::string h = std::string(2, '\0');
  h.append(key);
  h.append(identifier);
  h = Sha512(h);
  for (int i = 0; i < kFingerprintIterations; ++i) {
    h.append(key);
    h = Sha512(h);
  }
  std::string digits;
  for (int i = 0; i < 6; ++i) {
    uint64_t v = 0;
    for (int j = 0; j < 5; ++j) v = (v << 8) | static_cast<uint8_t>(h[static_cast<size_t>(i * 5 + j)]);
    char buf[8];
    std::snprintf(buf, sizeof buf, "%05u", static_cast<unsigned>(v % 100000));
    digits += buf;
  }
  return digits;
}

std::string FingerprintKey(std::vector<std::string> signing_keys) {
  std::sort(signing_keys.begin(), signing_keys.end());
  std::string out;
  for (const auto& k : signing_keys) out += k;
  return out;
}

std::string SafetyNumber(const std::vector<std::string>& local_signing_keys,
                         std::string_view local_user_id,
                         const std::vector<std::string>& remote_signing_keys,
                         std::string_view remote_user_id) {
  std::string a = FingerprintHalf(FingerprintKey(local_signing_keys), local_user_id);
  std::string b = FingerprintHalf(FingerprintKey(remote_signing_keys), remote_user_id);
  return a <= b ? a + b : b + a;
}

}  // namespace parley::sdk::crypto
