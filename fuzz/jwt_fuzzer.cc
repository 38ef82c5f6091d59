// Access tokens through JwtSigner::Verify with a fixed key and clock. The first byte picks how
// the rest is used:
//   even: the rest is the token as sent in `Authorization: Bearer …` (structure, base64url,
//         header JSON, alg pinning, kid, signature);
//   odd:  the rest is "<header JSON>\n<payload JSON>", which the harness encodes and signs with
//         the server's key (every "KID" in the header replaced by the key's id), so the fuzzer
//         reaches the claim checks behind the signature (types, issuer, expiry, UUIDs).
// A token Verify accepts must carry the claims it promises.
#include <sodium.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/ids.h"
#include "services/auth/jwt.h"

using namespace parley;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSeed(32, '\x42');

struct Keys {
  auth::JwtSigner signer = auth::JwtSigner::FromSeed(kSeed, "parley");
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  Keys() {
    if (sodium_init() < 0) std::abort();
    crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(kSeed.data()));
  }
};

std::string SignedToken(const Keys& keys, std::string header, std::string_view payload) {
  for (size_t at = header.find("KID"); at != std::string::npos;
       at = header.find("KID", at + keys.signer.kid().size())) {
    header.replace(at, 3, keys.signer.kid());
  }
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(), keys.sk);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Keys keys;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string token;
  if (data[0] % 2 == 0) {
    token = std::string(rest);
  } else {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return 0;
    token = SignedToken(keys, std::string(rest.substr(0, nl)), rest.substr(nl + 1));
  }
  auto claims = keys.signer.Verify(token, kNow);
  if (!claims.ok()) {
    FUZZ_CHECK(claims.error().code == ErrorCode::kUnauthenticated);
    return 0;
  }
  FUZZ_CHECK(IsUuid(claims->sub) && IsUuid(claims->did));
  FUZZ_CHECK(claims->exp > kNow && claims->iat <= kNow + 60);
  return 0;
}
