// Protocol test vectors (tests/vectors/*.json) generated from fixed inputs. With
// PARLEY_WRITE_VECTORS=1 the files are (re)written; otherwise the committed files must be
// reproduced byte for byte (media.json: decrypted, as its stream header is random by design).
// The TypeScript twin and tests/crosscheck/crosscheck.py read the same files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "sdk/crypto/double_ratchet.h"
#include "sdk/crypto/json_writer.h"
#include "sdk/crypto/media.h"
#include "sdk/crypto/safety_number.h"
#include "sdk/crypto/search_token.h"
#include "sdk/crypto/sender_key.h"
#include "sdk/crypto/x3dh.h"
#include "sdk/e2ee/envelope.h"

namespace parley::sdk::e2ee {
namespace {

using namespace parley::sdk::crypto;  // NOLINT: test of the crypto layer
using parley::HexEncode;

std::string Hex(std::string_view b) { return HexEncode(b); }
std::string Fixed(const std::string& label) { return Sha256("parley vector: " + label); }

// Deterministic "random": the k-th call (k = 0, 1, …) returns the first n bytes of
// SHA-512(label || u32 BE k). Every value drawn is logged so the files list them.
struct Seeded {
  explicit Seeded(std::string l) : label(std::move(l)) {}
  RandomFn Fn() {
    return [this](size_t n) {
      std::string in = label;
      for (int s = 24; s >= 0; s -= 8) in.push_back(static_cast<char>((k >> s) & 0xff));
      ++k;
      std::string out = Sha512(in).substr(0, n);
      drawn.push_back(out);
      return out;
    };
  }
  std::string label;
  uint32_t k = 0;
  std::vector<std::string> drawn;
};

std::string VectorsDir() { return std::string(PARLEY_SOURCE_DIR) + "/tests/vectors/"; }

void CheckOrWrite(const std::string& name, const std::string& content) {
  std::string path = VectorsDir() + name;
  if (const char* w = std::getenv("PARLEY_WRITE_VECTORS"); w && std::string(w) == "1") {
    std::ofstream(path, std::ios::binary) << content;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << path << " missing: run with PARLEY_WRITE_VECTORS=1";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), content) << path << " differs from what the code produces";
}

Json IdentityJson(const Identity& id) {
  return Json::Obj()
      .Set("seed", Hex(id.seed))
      .Set("signing_key", Hex(id.signing_key))
      .Set("identity_key", Hex(id.identity_key))
      .Set("identity_dh_private", Hex(id.dh_private));
}

struct X3dhFixture {
  Identity alice = IdentityFromSeed(Fixed("alice identity seed"));
  Identity bob = IdentityFromSeed(Fixed("bob identity seed"));
  KeyPair spk{X25519PublicKey(Fixed("bob signed prekey")), Fixed("bob signed prekey")};
  KeyPair otk{X25519PublicKey(Fixed("bob one-time prekey")), Fixed("bob one-time prekey")};
  KeyPair ek{X25519PublicKey(Fixed("alice ephemeral")), Fixed("alice ephemeral")};
  Bundle BobBundle(bool with_otk) const {
    Bundle b{bob.signing_key, bob.identity_key, 7, spk.public_key,
             SignPrekey(bob.seed, spk.public_key), std::nullopt, ""};
    if (with_otk) {
      b.one_time_prekey_id = 42;
      b.one_time_prekey = otk.public_key;
    }
    return b;
  }
};

std::string X3dhVectors() {
  X3dhFixture f;
  Json cases = Json::Arr();
  for (bool with_otk : {true, false}) {
    auto a = X3dhInitiate(f.alice, f.BobBundle(with_otk), f.ek);
    auto b = X3dhRespond(f.bob, f.spk.private_key, with_otk ? f.otk.private_key : "",
                         f.alice.signing_key, f.ek.public_key);
    EXPECT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->shared_secret, b->shared_secret);
    EXPECT_EQ(a->associated_data, b->associated_data);
    Json dh = Json::Arr();
    std::string ikm(32, '\xff');
    for (const auto& d : a->dh) {
      dh.Push(Json::Str(Hex(d)));
      ikm += d;
    }
    cases.Push(Json::Obj()
                   .Set("one_time_prekey_used", Json::Bool(with_otk))
                   .Set("dh", std::move(dh))
                   .Set("ikm", Hex(ikm))
                   .Set("shared_secret", Hex(a->shared_secret))
                   .Set("associated_data", Hex(a->associated_data)));
  }
  Json doc = Json::Obj();
  doc.Set("description",
          "X3DH, Parley profile. SK = HKDF-SHA-256(salt=32 zero bytes, IKM = 0xFF*32 || DH1 || DH2 "
          "|| DH3 [|| DH4], info, 32). AD = Encode(IK_A) || Encode(IK_B), Encode(K) = 0x05 || K "
          "(X25519 form). Identities are Ed25519 seeds; X25519 forms via "
          "crypto_sign_ed25519_{pk,sk}_to_curve25519. The signature is Ed25519 (RFC 8032) over "
          "Encode(SPK). DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B), DH4 = "
          "DH(EK_A, OPK_B). All bytes are hex.");
  doc.Set("info", std::string(kX3dhInfo));
  doc.Set("alice", IdentityJson(f.alice)
                       .Set("ephemeral_private", Hex(f.ek.private_key))
                       .Set("ephemeral_public", Hex(f.ek.public_key)));
  doc.Set("bob", IdentityJson(f.bob)
                     .Set("signed_prekey_id", 7)
                     .Set("signed_prekey_private", Hex(f.spk.private_key))
                     .Set("signed_prekey_public", Hex(f.spk.public_key))
                     .Set("signed_prekey_signed_message", Hex(EncodeX25519Key(f.spk.public_key)))
                     .Set("signed_prekey_signature", Hex(SignPrekey(f.bob.seed, f.spk.public_key)))
                     .Set("one_time_prekey_id", 42)
                     .Set("one_time_prekey_private", Hex(f.otk.private_key))
                     .Set("one_time_prekey_public", Hex(f.otk.public_key)));
  doc.Set("cases", std::move(cases));
  return doc.Dump();
}

Json StateJson(const RatchetState& s) {
  return Json::Obj()
      .Set("dhs_public", Hex(s.dhs_public))
      .Set("dhr", Hex(s.dhr))
      .Set("rk", Hex(s.rk))
      .Set("cks", Hex(s.cks))
      .Set("ckr", Hex(s.ckr))
      .Set("ns", s.ns)
      .Set("nr", s.nr)
      .Set("pn", s.pn)
      .Set("skipped", static_cast<int64_t>(s.skipped.size()));
}

std::string RatchetVectors() {
  X3dhFixture f;
  auto x = X3dhInitiate(f.alice, f.BobBundle(true), f.ek);
  Seeded alice_rng("ratchet/alice"), bob_rng("ratchet/bob");
  RatchetState alice =
      *RatchetInitAlice(x->shared_secret, f.spk.public_key, alice_rng.Fn(), x->associated_data);
  RatchetState bob = RatchetInitBob(x->shared_secret, f.spk, x->associated_data);
  bool alice_pending = true;  // Alice sends prekey envelopes until she hears from Bob

  struct Sent { RatchetHeader header; std::string ciphertext, plaintext; };
  std::vector<Sent> sent;
  Json steps = Json::Arr();
  auto encrypt = [&](bool by_alice, const std::string& text) {
    RatchetState& s = by_alice ? alice : bob;
    std::string cks_before = s.cks;
    auto e = RatchetEncrypt(s, text);
    s = e->state;
    AeadKey k = MessageKeyToAead(e->mk, kRatchetMessageInfo);
    Envelope env{std::nullopt, e->header, e->ciphertext};
    if (by_alice && alice_pending) {
      env.prekey = PrekeyFields{f.alice.signing_key, f.ek.public_key, 7, 42};
    }
    steps.Push(Json::Obj()
                   .Set("op", "encrypt")
                   .Set("by", by_alice ? "alice" : "bob")
                   .Set("message", static_cast<int64_t>(sent.size()))
                   .Set("plaintext", Hex(text))
                   .Set("chain_key_before", Hex(cks_before))
                   .Set("message_key", Hex(e->mk))
                   .Set("aead_key", Hex(k.key))
                   .Set("aead_nonce", Hex(k.nonce))
                   .Set("header", Json::Obj()
                                      .Set("dh", Hex(e->header.dh))
                                      .Set("pn", e->header.pn)
                                      .Set("n", e->header.n))
                   .Set("header_bytes", Hex(e->header.Encode()))
                   .Set("aead_ad", Hex(s.ad + e->header.Encode()))
                   .Set("ciphertext", Hex(e->ciphertext))
                   .Set("envelope_base64", Base64Encode(EncodeEnvelope(env)))
                   .Set("state_after", StateJson(s)));
    sent.push_back({e->header, e->ciphertext, text});
  };
  auto decrypt = [&](bool by_alice, size_t i) {
    RatchetState& s = by_alice ? alice : bob;
    auto d = RatchetDecrypt(s, sent[i].header, sent[i].ciphertext,
                            by_alice ? alice_rng.Fn() : bob_rng.Fn());
    Json step = Json::Obj()
                    .Set("op", "decrypt")
                    .Set("by", by_alice ? "alice" : "bob")
                    .Set("message", static_cast<int64_t>(i));
    if (d.ok()) {
      EXPECT_EQ(d->plaintext, sent[i].plaintext);
      s = d->state;
      if (by_alice) alice_pending = false;
      step.Set("result", "ok").Set("message_key", Hex(d->mk)).Set("state_after", StateJson(s));
    } else {
      step.Set("result", d.error().code == ErrorCode::kConflict ? "replay" : "error");
    }
    steps.Push(std::move(step));
  };
  encrypt(true, "m0: hello bob");
  encrypt(true, "m1");
  encrypt(true, "m2: sent third, read second");
  decrypt(false, 0);
  decrypt(false, 2);
  decrypt(false, 1);
  decrypt(false, 1);  // replay
  encrypt(false, "m3: hi alice");
  encrypt(false, "m4");
  decrypt(true, 4);
  decrypt(true, 3);
  encrypt(true, "m5: a new ratchet step");
  decrypt(false, 5);
  encrypt(false, "m6");
  decrypt(true, 6);

  Json drawn_a = Json::Arr(), drawn_b = Json::Arr();
  for (const auto& d : alice_rng.drawn) drawn_a.Push(Json::Str(Hex(d)));
  for (const auto& d : bob_rng.drawn) drawn_b.Push(Json::Str(Hex(d)));
  Json doc = Json::Obj();
  doc.Set("description",
          "Double Ratchet per the Signal spec. KDF_RK: HKDF-SHA-256(salt=RK, IKM=DH out, "
          "info=root_info, 64) -> RK' = [0:32], CK = [32:64]. KDF_CK: CK' = HMAC-SHA-256(CK, 0x02), "
          "MK = HMAC-SHA-256(CK, 0x01). ENCRYPT: key||nonce = HKDF-SHA-256(salt=32 zero bytes, "
          "IKM=MK, info=message_info, 56); XChaCha20-Poly1305-IETF with AD = X3DH AD || header. "
          "Header = DHs (32) || PN u32 BE || N u32 BE. Alice starts with the x3dh.json case with the "
          "one-time prekey; Bob's first ratchet key pair is his signed prekey. GENERATE_DH draws 32 "
          "bytes: the values each party drew, in order, are alice_random/bob_random (each the first "
          "32 bytes of SHA-512(label || u32 BE counter)). Steps run in order.");
  doc.Set("root_info", std::string(kRatchetRootInfo));
  doc.Set("message_info", std::string(kRatchetMessageInfo));
  doc.Set("max_skip", static_cast<int64_t>(kMaxSkip));
  doc.Set("max_skipped_keys", static_cast<int64_t>(kMaxSkippedKeys));
  doc.Set("shared_secret", Hex(x->shared_secret));
  doc.Set("associated_data", Hex(x->associated_data));
  doc.Set("bob_signed_prekey_private", Hex(f.spk.private_key));
  doc.Set("bob_signed_prekey_public", Hex(f.spk.public_key));
  doc.Set("alice_random", std::move(drawn_a));
  doc.Set("bob_random", std::move(drawn_b));
  doc.Set("steps", std::move(steps));
  return doc.Dump();
}

std::string SenderKeyVectors() {
  Seeded rng("sender_key");
  SenderChain chain = NewSenderChain(rng.Fn());
  SenderKeyContext ctx{"conv-1", "alice", "a1"};
  std::string search_key = Fixed("search key");
  SenderKeyDistribution dist{ctx.conversation_id, chain.chain_id, 0, chain.chain_key,
                             chain.signing_public, std::make_pair(uint32_t{0}, search_key)};
  Json doc = Json::Obj();
  doc.Set("description",
          "Sender Keys. mk/ck' as the ratchet's KDF_CK. key||nonce = HKDF-SHA-256(salt=32 zero "
          "bytes, IKM=mk, info, 56). AD = 0x01 || u16 len || conversation_id || u16 len || "
          "sender_user_id || u16 len || sender_device_id || chain_id || u32 iteration. message = "
          "0x01 || chain_id || u32 iteration || ciphertext || Ed25519(signing seed, AD || "
          "ciphertext). NewSenderChain draws chain_id (16), chain_key (32), signing_seed (32) in "
          "that order from SHA-512(\"sender_key\" || u32 BE counter).");
  doc.Set("info", std::string(kSenderKeyMessageInfo));
  doc.Set("context", Json::Obj()
                         .Set("conversation_id", ctx.conversation_id)
                         .Set("sender_user_id", ctx.sender_user_id)
                         .Set("sender_device_id", ctx.sender_device_id));
  doc.Set("chain", Json::Obj()
                       .Set("chain_id", Hex(chain.chain_id))
                       .Set("chain_key", Hex(chain.chain_key))
                       .Set("signing_seed", Hex(chain.signing_seed))
                       .Set("signing_public", Hex(chain.signing_public)));
  doc.Set("distribution", Hex(EncodeDistribution(dist)));
  doc.Set("distribution_search_key", Hex(search_key));
  Json msgs = Json::Arr();
  std::vector<std::string> wire;
  for (int i = 0; i < 4; ++i) {
    std::string text = "group message " + std::to_string(i);
    std::string ck = chain.chain_key;
    auto e = SenderKeyEncrypt(chain, ctx, text);
    AeadKey k = MessageKeyToAead(e->mk, kSenderKeyMessageInfo);
    size_t ct_len = e->message.size() - 1 - kChainIdBytes - 4 - kSignatureBytes;
    msgs.Push(Json::Obj()
                  .Set("iteration", static_cast<int64_t>(chain.iteration))
                  .Set("plaintext", Hex(text))
                  .Set("chain_key", Hex(ck))
                  .Set("message_key", Hex(e->mk))
                  .Set("aead_key", Hex(k.key))
                  .Set("aead_nonce", Hex(k.nonce))
                  .Set("ad", Hex(SenderKeyAd(ctx, chain.chain_id, chain.iteration)))
                  .Set("ciphertext", Hex(e->message.substr(1 + kChainIdBytes + 4, ct_len)))
                  .Set("signature", Hex(e->message.substr(e->message.size() - kSignatureBytes)))
                  .Set("message_base64", Base64Encode(e->message)));
    wire.push_back(e->message);
    chain = e->chain;
  }
  doc.Set("messages", std::move(msgs));
  // A receiver from the distribution, reading out of order.
  SenderReceiver r{dist.chain_id, 0, dist.chain_key, dist.signing_public, {}};
  Json order = Json::Arr();
  for (int i : {0, 2, 1, 3}) {
    auto d = SenderKeyDecrypt(r, ctx, wire[static_cast<size_t>(i)]);
    EXPECT_TRUE(d.ok());
    r = d->receiver;
    order.Push(Json::Num(i));
  }
  doc.Set("receive_order", std::move(order));
  return doc.Dump();
}

std::string SafetyNumberVectors() {
  Json doc = Json::Obj();
  doc.Set("description",
          "Signal numeric fingerprint v0: h = SHA-512(0x0000 || key || identifier), then 5200 "
          "times h = SHA-512(h || key); 6 groups of 5 digits: BE40(h[5i:5i+5]) mod 100000. key = "
          "the user's device Ed25519 signing keys sorted bytewise and concatenated; identifier = "
          "user_id (UTF-8). The number = the two 30-digit halves, the smaller string first.");
  doc.Set("iterations", static_cast<int64_t>(kFingerprintIterations));
  std::vector<std::string> a_keys, b_keys;
  for (const char* s : {"alice device 1", "alice device 2"}) {
    a_keys.push_back(Ed25519FromSeed(Fixed(s)).public_key);
  }
  b_keys.push_back(Ed25519FromSeed(Fixed("bob device 1")).public_key);
  auto user = [](const std::string& id, const std::vector<std::string>& keys) {
    Json k = Json::Arr();
    for (const auto& key : keys) k.Push(Json::Str(Hex(key)));
    return Json::Obj()
        .Set("user_id", id)
        .Set("signing_keys", std::move(k))
        .Set("fingerprint_key", Hex(FingerprintKey(keys)))
        .Set("half", FingerprintHalf(FingerprintKey(keys), id));
  };
  doc.Set("local", user("alice-user-id", a_keys));
  doc.Set("remote", user("bob-user-id", b_keys));
  doc.Set("safety_number", SafetyNumber(a_keys, "alice-user-id", b_keys, "bob-user-id"));
  return doc.Dump();
}

std::string SearchTokenVectors() {
  std::string key = Fixed("search key");
  Json doc = Json::Obj();
  doc.Set("description",
          "token = lowercase hex of HMAC-SHA-256(search_key, normalized word)[0:16]. Words are "
          "distinct, in order of first appearance; normalization in docs/protocol.md. Texts are "
          "given as hex of UTF-8.");
  doc.Set("search_key", Hex(key));
  Json cases = Json::Arr();
  for (const char* text : {"Hello, World! hello", "Cr\xc3\xa8me Br\xc3\xbbl\xc3\xa9" "e \xc3\x89T\xc3\x89",
                           "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80",
                           "Stra\xc3\x9f" "e \xc5\x92UVRE", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x80test",
                           "a_b-c 123 x\xe2\x80\x94y"}) {
    Json words = Json::Arr(), tokens = Json::Arr();
    for (const auto& w : NormalizeWords(text)) {
      words.Push(Json::Str(Hex(w)));
      tokens.Push(Json::Str(SearchToken(key, w)));
    }
    cases.Push(Json::Obj()
                   .Set("text", Hex(text))
                   .Set("words", std::move(words))
                   .Set("tokens", std::move(tokens)));
  }
  doc.Set("cases", std::move(cases));
  return doc.Dump();
}

std::string MediaPlaintext() {
  std::string p(kMediaChunkBytes + 1000, '\0');
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>((i * 7) & 0xff);
  return p;
}

TEST(E2eeVectors, X3dh) { CheckOrWrite("x3dh.json", X3dhVectors()); }
TEST(E2eeVectors, Ratchet) { CheckOrWrite("ratchet.json", RatchetVectors()); }
TEST(E2eeVectors, SenderKey) { CheckOrWrite("sender_key.json", SenderKeyVectors()); }
TEST(E2eeVectors, SafetyNumber) { CheckOrWrite("safety_number.json", SafetyNumberVectors()); }
TEST(E2eeVectors, SearchToken) { CheckOrWrite("search_token.json", SearchTokenVectors()); }

TEST(E2eeVectors, Media) {
  std::string key = Fixed("media key");
  std::string path = VectorsDir() + "media.json";
  if (const char* w = std::getenv("PARLEY_WRITE_VECTORS"); w && std::string(w) == "1") {
    std::istringstream in(MediaPlaintext());
    std::ostringstream blob;
    auto enc = EncryptMediaWithKey(in, blob, key);
    ASSERT_TRUE(enc.ok());
    MediaInfo info{key, enc->sha256, enc->plaintext_size, "application/octet-stream", "vector.bin"};
    Json doc = Json::Obj();
    doc.Set("description",
            "crypto_secretstream_xchacha20poly1305: 24-byte header, then 64 KiB plaintext chunks "
            "(+17 bytes each), the last tagged FINAL. The header is random (libsodium draws it), "
            "so this vector is for decryption: decrypt blob with key and get plaintext, where "
            "plaintext[i] = (i * 7) mod 256 for i < plaintext_size. media_info is the encoded "
            "MediaInfo carried inside the message.");
    doc.Set("chunk_bytes", static_cast<int64_t>(kMediaChunkBytes));
    doc.Set("key", Hex(key));
    doc.Set("plaintext_size", static_cast<int64_t>(enc->plaintext_size));
    doc.Set("plaintext_sha256", Hex(Sha256(MediaPlaintext())));
    doc.Set("blob_sha256", Hex(enc->sha256));
    doc.Set("media_info", Hex(EncodeMediaInfo(info)));
    doc.Set("blob", Hex(blob.str()));
    std::ofstream(path, std::ios::binary) << doc.Dump();
    return;
  }
  std::ifstream file(path, std::ios::binary);
  ASSERT_TRUE(file.good()) << path;
  std::stringstream ss;
  ss << file.rdbuf();
  std::string text = ss.str();
  auto field = [&](const std::string& name) {
    size_t at = text.find("\"" + name + "\": \"");
    if (at == std::string::npos) return std::string();
    at += name.size() + 5;
    return text.substr(at, text.find('"', at) - at);
  };
  auto unhex = [](const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) {
      out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    }
    return out;
  };
  EXPECT_EQ(field("key"), Hex(key));
  auto info = DecodeMediaInfo(unhex(field("media_info")));
  ASSERT_TRUE(info.ok());
  std::istringstream blob(unhex(field("blob")));
  std::ostringstream out;
  ASSERT_TRUE(DecryptMedia(blob, out, info->key, info->sha256, info->size).ok());
  EXPECT_EQ(out.str(), MediaPlaintext());
}

}  // namespace
}  // namespace parley::sdk::e2ee
