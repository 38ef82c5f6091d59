#include "services/auth/jwt.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include "common/encoding.h"
#include "common/ids.h"
#include "services/auth/password.h"

namespace parley::auth {
namespace {

Claims SomeClaims(int64_t now) {
  return {NewUuidV4(), NewUuidV4(), NewUuidV4(), now, now + 900};
}

TEST(Jwt, SignThenVerifyRoundTrips) {
  ASSERT_GE(sodium_init(), 0);
  auto signer = JwtSigner::FromSeed(std::string(32, 'k'), "parley-test");
  Claims c = SomeClaims(1000);
  auto v = signer.Verify(signer.Sign(c), 1001);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->sub, c.sub);
  EXPECT_EQ(v->did, c.did);
  EXPECT_EQ(v->exp, c.exp);
}

TEST(Jwt, RejectsExpiredTamperedForeignAndNone) {
  auto signer = JwtSigner::FromSeed(std::string(32, 'k'), "parley-test");
  auto other = JwtSigner::FromSeed(std::string(32, 'o'), "parley-test");
  auto other_iss = JwtSigner::FromSeed(std::string(32, 'k'), "elsewhere");
  Claims c = SomeClaims(1000);
  std::string t = signer.Sign(c);
  EXPECT_FALSE(signer.Verify(t, 1900).ok());  // expired
  EXPECT_FALSE(signer.Verify(other.Sign(c), 1001).ok());
  EXPECT_FALSE(signer.Verify(other_iss.Sign(c), 1001).ok());
  std::string tampered = t;
  tampered[t.find('.') + 5] ^= 1;
  EXPECT_FALSE(signer.Verify(tampered, 1001).ok());
  // alg "none" with the same payload and no signature.
  std::string payload = t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1);
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":")" + signer.kid() + "\"}") +
                     "." + payload + ".";
  EXPECT_FALSE(signer.Verify(none, 1001).ok());
  std::string hs = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":")" + signer.kid() + "\"}") +
                   "." + payload + "." + t.substr(t.rfind('.') + 1);
  EXPECT_FALSE(signer.Verify(hs, 1001).ok());
  for (const char* junk : {"", ".", "..", "a.b.c", "a.b.c.d"}) EXPECT_FALSE(signer.Verify(junk, 1001).ok());
}

TEST(Jwt, RotationKeepsThePreviousKeyUntilItsTokensExpire) {
  std::string dir = ::testing::TempDir() + "/jwt_rotate_" + NewUuidV4();
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  std::string path = dir + "/jwt_ed25519.key";
  auto old_signer = JwtSigner::LoadOrCreate(path, "parley-test");
  ASSERT_TRUE(old_signer.ok());
  Claims c = SomeClaims(1000);
  std::string old_token = old_signer->Sign(c);
  ASSERT_TRUE(JwtSigner::RotateKeyFile(path).ok());
  auto signer = JwtSigner::LoadOrCreate(path, "parley-test", /*previous_valid_until=*/1500);
  ASSERT_TRUE(signer.ok());
  EXPECT_NE(signer->kid(), old_signer->kid());
  EXPECT_TRUE(signer->Verify(old_token, 1001).ok());   // the previous key still verifies…
  EXPECT_FALSE(signer->Verify(old_token, 1500).ok());  // …until its window closes
  EXPECT_TRUE(signer->Verify(signer->Sign(c), 1001).ok());
  EXPECT_EQ(signer->Jwks(1001).at("keys").as_array().size(), 2u);
  EXPECT_EQ(signer->Jwks(1500).at("keys").as_array().size(), 1u);
  // Without a window (or once .previous is gone) only the current key verifies.
  EXPECT_FALSE(JwtSigner::LoadOrCreate(path, "parley-test")->Verify(old_token, 1001).ok());
}

TEST(Password, Argon2idHashVerifies) {
  auto h = HashPassword("correct horse", {});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_NE(h->find("m=19456"), std::string::npos);
  EXPECT_TRUE(VerifyPassword("correct horse", *h));
  EXPECT_FALSE(VerifyPassword("correct horse!", *h));
  EXPECT_FALSE(VerifyPassword("x", "not a hash"));
}

}  // namespace
}  // namespace parley::auth
