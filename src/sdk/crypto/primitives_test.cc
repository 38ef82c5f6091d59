// The primitives against their RFC test vectors.
#include "sdk/crypto/primitives.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace parley::sdk::crypto {
namespace {

std::string H(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}
std::string Range(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s.push_back(static_cast<char>(i));
  return s;
}

TEST(CryptoPrimitives, HmacSha256Rfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\xaa'), std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(CryptoPrimitives, HkdfSha256Rfc5869) {
  EXPECT_EQ(HexEncode(HkdfSha256(Range(0, 13), std::string(22, '\x0b'), Range(0xf0, 0xfa), 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  EXPECT_EQ(HexEncode(HkdfSha256(Range(0x60, 0xb0), Range(0, 0x50), Range(0xb0, 0x100), 82)),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb"
            "41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
  EXPECT_EQ(HexEncode(HkdfSha256("", std::string(22, '\x0b'), "", 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(CryptoPrimitives, Ed25519Rfc8032) {
  struct V { const char *sk, *pk, *msg, *sig; };
  const V vs[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
       "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
       "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
       "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (const auto& v : vs) {
    EXPECT_EQ(HexEncode(Ed25519FromSeed(H(v.sk)).public_key), v.pk);
    std::string sig = Ed25519Sign(H(v.sk), H(v.msg));
    EXPECT_EQ(HexEncode(sig), v.sig);
    EXPECT_TRUE(Ed25519Verify(H(v.pk), H(v.msg), sig));
    sig[5] ^= 1;
    EXPECT_FALSE(Ed25519Verify(H(v.pk), H(v.msg), sig));
    EXPECT_FALSE(Ed25519Verify(H(v.pk), H(v.msg), sig.substr(1)));
  }
}

TEST(CryptoPrimitives, X25519Rfc7748) {
  std::string a = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  std::string b = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  EXPECT_EQ(HexEncode(X25519PublicKey(a)),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(HexEncode(X25519PublicKey(b)),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto k1 = X25519(a, X25519PublicKey(b));
  auto k2 = X25519(b, X25519PublicKey(a));
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(HexEncode(*k1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*k1, *k2);
}

TEST(CryptoPrimitives, X25519RejectsLowOrderPoints) {
  std::string priv(32, '\x42');
  EXPECT_FALSE(X25519(priv, std::string(32, '\0')).ok());  // the identity
  std::string one(32, '\0');
  one[0] = 1;
  EXPECT_FALSE(X25519(priv, one).ok());  // order 4
  EXPECT_FALSE(X25519(priv, std::string(31, '\x09')).ok());
}

TEST(CryptoPrimitives, XChaCha20Poly1305DraftA31) {
  std::string pt =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
      "sunscreen would be it.";
  std::string ad = H("50515253c0c1c2c3c4c5c6c7");
  std::string key = Range(0x80, 0xa0);
  std::string nonce = H("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::string ct = AeadEncrypt(key, nonce, pt, ad);
  EXPECT_EQ(HexEncode(ct),
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3"
            "a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2b"
            "c369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
            "c0875924c1c7987947deafd8780acf49");
  auto back = AeadDecrypt(key, nonce, ct, ad);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, pt);
  ct[3] ^= 1;
  auto bad = AeadDecrypt(key, nonce, ct, ad);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(AeadDecrypt(key, nonce, "short", ad).error().code, ErrorCode::kInvalidArgument);
}

TEST(CryptoPrimitives, Ed25519ToX25519Conversion) {
  // The RFC 7748 key pair is not an Ed25519 one; check the conversion's consistency instead:
  // X25519(sk_to_curve(seed), base) == pk_to_curve(pk).
  std::string seed = H("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto x_pub = Ed25519PublicToX25519(Ed25519FromSeed(seed).public_key);
  ASSERT_TRUE(x_pub.ok());
  EXPECT_EQ(*x_pub, X25519PublicKey(Ed25519SeedToX25519Private(seed)));
  EXPECT_FALSE(Ed25519PublicToX25519(std::string(31, 'a')).ok());
}

TEST(CryptoPrimitives, Base64Standard) {
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(*Base64Decode("+/8="), "\xfb\xff");
  EXPECT_FALSE(Base64Decode("+/8").has_value());
  EXPECT_FALSE(Base64Decode("-_8=").has_value());
  EXPECT_FALSE(Base64Decode("+/9=").has_value());  // non-canonical trailing bits
  EXPECT_EQ(*Base64Decode(""), "");
}

}  // namespace
}  // namespace parley::sdk::crypto
