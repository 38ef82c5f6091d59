#include "services/media/url_signer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"

namespace parley::services {
namespace {

const std::string kKey(32, 'k');
const std::string kId = "0190f0aa-7c1e-4b6a-9a51-3a8d3f6f0c11";

TEST(UrlSignerTest, SignedLinkVerifies) {
  UrlSigner s = UrlSigner::FromKey(kKey);
  std::string sig = s.Sign(kId, "original", 1000);
  EXPECT_EQ(sig.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_TRUE(s.Verify(kId, "original", "1000", sig, 999).ok());
  EXPECT_TRUE(s.Verify(kId, "original", "1000", sig, 1000).ok());  // valid through its second
  EXPECT_EQ(s.SignedPath(kId, "original", 1000),
            "/v1/download/" + kId + "?expires=1000&sig=" + sig);
  EXPECT_EQ(s.SignedPath(kId, "thumbnail", 1000),
            "/v1/download/" + kId + "?variant=thumbnail&expires=1000&sig=" +
                s.Sign(kId, "thumbnail", 1000));
}

TEST(UrlSignerTest, ExpiredLinkIsForbidden) {
  UrlSigner s = UrlSigner::FromKey(kKey);
  auto st = s.Verify(kId, "original", "1000", s.Sign(kId, "original", 1000), 1001);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kForbidden);
}

TEST(UrlSignerTest, TamperingIsForbidden) {
  UrlSigner s = UrlSigner::FromKey(kKey);
  std::string sig = s.Sign(kId, "original", 1000);
  auto forbidden = [&](std::string_view id, std::string_view variant, std::string_view expires,
                       std::string_view signature) {
    auto st = s.Verify(id, variant, expires, signature, 500);
    return !st.ok() && st.error().code == ErrorCode::kForbidden;
  };
  EXPECT_TRUE(forbidden("0190f0aa-7c1e-4b6a-9a51-3a8d3f6f0c12", "original", "1000", sig));
  EXPECT_TRUE(forbidden(kId, "thumbnail", "1000", sig));
  EXPECT_TRUE(forbidden(kId, "original", "1001", sig));      // extended expiry
  EXPECT_TRUE(forbidden(kId, "original", "01000", sig));     // other spelling of the expiry
  EXPECT_TRUE(forbidden(kId, "original", "+1000", sig));
  EXPECT_TRUE(forbidden(kId, "original", "", sig));
  EXPECT_TRUE(forbidden(kId, "original", "1000x", sig));
  EXPECT_TRUE(forbidden(kId, "original", "99999999999999999999", sig));
  EXPECT_TRUE(forbidden(kId, "original", "1000", ""));
  EXPECT_TRUE(forbidden(kId, "original", "1000", sig + "A"));
  EXPECT_TRUE(forbidden(kId, "original", "1000", sig.substr(1)));
  EXPECT_TRUE(forbidden(kId, "original", "1000", "not base64!"));
  // Every single-character change, including ones that only touch the unused low bits of the
  // last base64 character.
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < sig.size(); ++i) {
    for (char c : {alphabet[(alphabet.find(sig[i]) + 1) % 64], alphabet[(alphabet.find(sig[i]) + 2) % 64]}) {
      std::string t = sig;
      t[i] = c;
      EXPECT_TRUE(forbidden(kId, "original", "1000", t)) << i;
    }
  }
  // Another server's key.
  UrlSigner other = UrlSigner::FromKey(std::string(32, 'x'));
  EXPECT_TRUE(forbidden(kId, "original", "1000", other.Sign(kId, "original", 1000)));
}

TEST(UrlSignerTest, KeyFileIsCreatedOnceAndReused) {
  auto dir = std::filesystem::temp_directory_path() / ("parley-url-" + NewUuidV4());
  std::filesystem::create_directories(dir);
  std::string path = (dir / "media_url.key").string();
  auto a = UrlSigner::LoadOrCreate(path);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::filesystem::file_size(path), 32u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto b = UrlSigner::LoadOrCreate(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->Sign(kId, "original", 5), b->Sign(kId, "original", 5));
  std::filesystem::resize_file(path, 10);
  EXPECT_FALSE(UrlSigner::LoadOrCreate(path).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::services
