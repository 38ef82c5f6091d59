// Unit tests of the pure protocol objects (the engine tests cover them end to end).
#include <gtest/gtest.h>

#include <sstream>

#include "sdk/crypto/double_ratchet.h"
#include "sdk/crypto/media.h"
#include "sdk/crypto/safety_number.h"
#include "sdk/crypto/search_token.h"
#include "sdk/crypto/sender_key.h"
#include "sdk/crypto/x3dh.h"

namespace parley::sdk::crypto {
namespace {

Result<MediaEncrypted> Encrypt(const std::string& plain, std::string& blob) {
  std::istringstream in(plain);
  std::ostringstream out;
  auto r = EncryptMedia(in, out, SystemRandom());
  blob = out.str();
  return r;
}
Result<Unit> Decrypt(const std::string& blob, const MediaEncrypted& m, std::string* plain = nullptr) {
  std::istringstream in(blob);
  std::ostringstream out;
  auto r = DecryptMedia(in, out, m.key, m.sha256, m.plaintext_size);
  if (plain) *plain = out.str();
  return r;
}

TEST(CryptoMedia, RoundTripsAtChunkBoundaries) {
  for (size_t n : {size_t{0}, size_t{1}, kMediaChunkBytes - 1, kMediaChunkBytes,
                   kMediaChunkBytes + 1, 3 * kMediaChunkBytes + 5}) {
    std::string plain(n, 'p'), blob, back;
    auto m = Encrypt(plain, blob);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->plaintext_size, n);
    EXPECT_EQ(m->ciphertext_size, blob.size());
    EXPECT_EQ(m->sha256, Sha256(blob));
    ASSERT_TRUE(Decrypt(blob, *m, &back).ok()) << n;
    EXPECT_EQ(back, plain);
  }
}

TEST(CryptoMedia, RejectsTruncatedExtendedAndTamperedBlobs) {
  std::string plain(2 * kMediaChunkBytes + 10, 'x'), blob;
  auto m = Encrypt(plain, blob);
  ASSERT_TRUE(m.ok());
  // Cut after whole chunks (no final chunk), inside a chunk, inside the header.
  for (size_t cut : {size_t{24} + kMediaChunkBytes + 17, size_t{24} + 2 * (kMediaChunkBytes + 17),
                     blob.size() - 1, size_t{10}, size_t{24}}) {
    std::istringstream in(blob.substr(0, cut));
    std::ostringstream out;
    EXPECT_FALSE(DecryptMedia(in, out, m->key).ok()) << cut;  // even without the hash check
  }
  std::istringstream longer(blob + "extra");
  std::ostringstream sink;
  EXPECT_FALSE(DecryptMedia(longer, sink, m->key).ok());
  std::string bad = blob;
  bad[kMediaChunkBytes] ^= 1;
  EXPECT_EQ(Decrypt(bad, *m).error().code, ErrorCode::kForbidden);
  MediaEncrypted wrong_hash = *m;
  wrong_hash.sha256[0] ^= 1;
  EXPECT_EQ(Decrypt(blob, wrong_hash).error().code, ErrorCode::kForbidden);
}

TEST(CryptoX3dh, RejectsBadBundles) {
  Identity alice = IdentityFromSeed(std::string(32, 'a'));
  Identity bob = IdentityFromSeed(std::string(32, 'b'));
  KeyPair spk = GenerateX25519(SystemRandom());
  KeyPair ek = GenerateX25519(SystemRandom());
  Bundle good{bob.signing_key, bob.identity_key, 1, spk.public_key,
              SignPrekey(bob.seed, spk.public_key), std::nullopt, ""};
  ASSERT_TRUE(X3dhInitiate(alice, good, ek).ok());
  Bundle forged = good;
  forged.signed_prekey_signature[0] ^= 1;
  EXPECT_EQ(X3dhInitiate(alice, forged, ek).error().code, ErrorCode::kForbidden);
  Bundle mismatched = good;
  mismatched.identity_key = alice.identity_key;
  EXPECT_EQ(X3dhInitiate(alice, mismatched, ek).error().code, ErrorCode::kForbidden);
  Bundle low_order = good;
  low_order.signed_prekey = std::string(32, '\0');
  low_order.signed_prekey_signature = SignPrekey(bob.seed, low_order.signed_prekey);
  EXPECT_FALSE(X3dhInitiate(alice, low_order, ek).ok());
  Bundle short_key = good;
  short_key.signed_prekey.pop_back();
  EXPECT_EQ(X3dhInitiate(alice, short_key, ek).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(X3dhRespond(bob, spk.private_key, "", alice.signing_key, std::string(32, '\0')).ok());
}

TEST(CryptoRatchet, StateSerializationRoundTripsAndRejectsGarbage) {
  auto s = RatchetInitAlice(std::string(32, 's'), X25519PublicKey(std::string(32, 'k')),
                            SystemRandom(), std::string(66, 'a'));
  ASSERT_TRUE(s.ok());
  auto e = RatchetEncrypt(*s, "x");
  ASSERT_TRUE(e.ok());
  std::string bytes = SerializeRatchet(e->state);
  auto back = ParseRatchet(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(SerializeRatchet(*back), bytes);
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(ParseRatchet(bytes.substr(0, n)).ok());
}

TEST(CryptoSenderKey, BoundsAndReplay) {
  SenderChain chain = NewSenderChain(SystemRandom());
  SenderReceiver rcv{chain.chain_id, 0, chain.chain_key, chain.signing_public, {}};
  SenderKeyContext ctx{"c", "u", "d"};
  std::vector<std::string> msgs;
  for (int i = 0; i < 2100; ++i) {
    auto e = SenderKeyEncrypt(chain, ctx, "m");
    chain = e->chain;
    msgs.push_back(e->message);
  }
  EXPECT_EQ(SenderKeyDecrypt(rcv, ctx, msgs[1001]).error().code, ErrorCode::kInvalidArgument);
  auto d = SenderKeyDecrypt(rcv, ctx, msgs[1000]);
  ASSERT_TRUE(d.ok());
  rcv = d->receiver;
  EXPECT_EQ(rcv.skipped.size(), 1000u);
  d = SenderKeyDecrypt(rcv, ctx, msgs[2000]);
  ASSERT_TRUE(d.ok());
  rcv = d->receiver;
  EXPECT_EQ(rcv.skipped.size(), 1999u);
  d = SenderKeyDecrypt(rcv, ctx, msgs[2099]);
  ASSERT_TRUE(d.ok());
  rcv = d->receiver;
  EXPECT_EQ(rcv.skipped.size(), kMaxSenderKeySkipped);  // 2097 skipped: the oldest 97 evicted
  EXPECT_EQ(SenderKeyDecrypt(rcv, ctx, msgs[0]).error().code, ErrorCode::kConflict);  // evicted
  EXPECT_TRUE(SenderKeyDecrypt(rcv, ctx, msgs[500]).ok());
  EXPECT_EQ(SenderKeyDecrypt(rcv, ctx, msgs[2000]).error().code, ErrorCode::kConflict);
  auto back = ParseSenderReceiver(SerializeSenderReceiver(rcv));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->skipped.size(), rcv.skipped.size());
}

TEST(CryptoSearchToken, Normalization) {
  EXPECT_EQ(NormalizeWords("Hello, WORLD! hello"), (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(NormalizeWords("Cr\xc3\xa8me Br\xc3\xbbl\xc3\xa9" "e"),
            (std::vector<std::string>{"creme", "brulee"}));
  EXPECT_EQ(NormalizeWords("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2"),
            NormalizeWords("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
  EXPECT_EQ(NormalizeWords("a\xe2\x80\x94" "b \xff c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(NormalizeWords(" ,.;!? ").empty());
  std::string key(32, 'k');
  EXPECT_EQ(SearchTokens(key, "Foo foo FOO").size(), 1u);
  EXPECT_EQ(SearchToken(key, "foo").size(), 32u);
}

TEST(CryptoSafetyNumber, IsSymmetricAndKeyOrderIndependent) {
  std::string k1(32, '\x01'), k2(32, '\x02'), k3(32, '\x03');
  std::string ab = SafetyNumber({k1, k2}, "alice", {k3}, "bob");
  EXPECT_EQ(ab.size(), 60u);
  EXPECT_EQ(ab, SafetyNumber({k3}, "bob", {k2, k1}, "alice"));
  EXPECT_NE(ab, SafetyNumber({k1}, "alice", {k3}, "bob"));
}

}  // namespace
}  // namespace parley::sdk::crypto
