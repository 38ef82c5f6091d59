// The E2EE engine end to end over the in-memory twins: a fake server shared by several devices.
#include "sdk/e2ee/engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include "sdk/crypto/primitives.h"
#include "sdk/e2ee/engine_test_util.h"

namespace parley::sdk::e2ee {
namespace {
using engine_test::Device;
using engine_test::E2eeEngine;

TEST_F(E2eeEngine, TwoUsersExchangeMessages) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string m1 = Send(alice, "c1", {"alice", "bob"}, "hello bob");
  EXPECT_EQ(Sync(bob), 0);
  auto r1 = Read(bob, alice, "c1", m1);
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  EXPECT_EQ(*r1, "hello bob");

  std::string m2 = Send(bob, "c1", {"alice", "bob"}, "hi alice");
  EXPECT_EQ(Sync(alice), 0);
  auto r2 = Read(alice, bob, "c1", m2);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(*r2, "hi alice");

  // Later messages need no key exchange.
  int claims = server_.claims;
  std::string m3 = Send(alice, "c1", {"alice", "bob"}, "again");
  EXPECT_TRUE((server_.queues[{"bob", "b1"}].empty()));
  EXPECT_EQ(server_.claims, claims);
  EXPECT_EQ(*Read(bob, alice, "c1", m3), "again");
  // A device cannot read its own messages (it keeps their plaintext).
  EXPECT_EQ(Read(alice, alice, "c1", m3).error().code, ErrorCode::kNotFound);
}

TEST_F(E2eeEngine, MessageBeforeItsSenderKeyIsPending) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string m1 = Send(alice, "c1", {"bob"}, "early");
  auto pending = Read(bob, alice, "c1", m1);
  ASSERT_FALSE(pending.ok());
  EXPECT_EQ(pending.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c1", m1), "early");
}

TEST_F(E2eeEngine, SecondDeviceOfAUserReadsBothWays) {
  Device& a1 = Add("alice", "a1");
  Device& a2 = Add("alice", "a2");
  Device& b1 = Add("bob", "b1");
  std::string m1 = Send(a1, "c1", {"alice", "bob"}, "from a1");
  EXPECT_EQ(Sync(a2), 0);
  EXPECT_EQ(Sync(b1), 0);
  EXPECT_EQ(*Read(a2, a1, "c1", m1), "from a1");
  EXPECT_EQ(*Read(b1, a1, "c1", m1), "from a1");
  std::string m2 = Send(b1, "c1", {"alice", "bob"}, "from b1");
  EXPECT_EQ(Sync(a1), 0);
  EXPECT_EQ(Sync(a2), 0);
  EXPECT_EQ(*Read(a1, b1, "c1", m2), "from b1");
  EXPECT_EQ(*Read(a2, b1, "c1", m2), "from b1");
}

TEST_F(E2eeEngine, GroupRemovalRotatesAndNewMembersReadOnlyWhatFollows) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  Device& carol = Add("carol", "c1");
  std::vector<std::string> all = {"alice", "bob", "carol"};
  std::string m1 = Send(alice, "g", all, "to all three");
  for (Device* d : {&bob, &carol}) {
    EXPECT_EQ(Sync(*d), 0);
    EXPECT_EQ(*Read(*d, alice, "g", m1), "to all three");
  }
  // Carol is removed: Alice's next message uses a new chain Carol never gets.
  std::string m2 = Send(alice, "g", {"alice", "bob"}, "without carol");
  EXPECT_EQ(Sync(carol), 0);
  auto denied = Read(carol, alice, "g", m2);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "g", m2), "without carol");

  // Dave joins and Bob adds a device: both read what follows, not what came before.
  Device& dave = Add("dave", "d1");
  Device& bob2 = Add("bob", "b2");
  std::string m3 = Send(alice, "g", {"alice", "bob", "dave"}, "welcome");
  for (Device* d : {&bob, &dave, &bob2}) {
    EXPECT_EQ(Sync(*d), 0);
    auto r = Read(*d, alice, "g", m3);
    ASSERT_TRUE(r.ok()) << d->device_id << ": " << r.error().message;
    EXPECT_EQ(*r, "welcome");
  }
  EXPECT_FALSE(Read(dave, alice, "g", m2).ok());   // same chain, earlier iteration
  EXPECT_FALSE(Read(bob2, alice, "g", m1).ok());   // an earlier chain
  // Adding members does not rotate: Bob's first device kept the chain.
  std::string m4 = Send(alice, "g", {"alice", "bob", "dave"}, "no rotation");
  EXPECT_TRUE((server_.queues[{"bob", "b1"}].empty()));
  EXPECT_EQ(*Read(bob, alice, "g", m4), "no rotation");
  // Revoking Bob's second device rotates again.
  server_.RemoveDevice("bob", "b2");
  std::string m5 = Send(alice, "g", {"alice", "bob", "dave"}, "after revocation");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "g", m5), "after revocation");
  EXPECT_EQ(Read(bob2, alice, "g", m5).error().code, ErrorCode::kNotFound);
}

TEST_F(E2eeEngine, OutOfOrderLostAndReplayedMessages) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::vector<std::string> m;
  for (int i = 0; i < 6; ++i) m.push_back(Send(alice, "c", {"bob"}, "m" + std::to_string(i)));
  EXPECT_EQ(Sync(bob), 0);
  for (int i : {3, 0, 5, 1}) EXPECT_EQ(*Read(bob, alice, "c", m[static_cast<size_t>(i)]), "m" + std::to_string(i));
  // m2 and m4 are late, not lost: their keys were kept.
  EXPECT_EQ(*Read(bob, alice, "c", m[4]), "m4");
  auto before = bob.store.data();
  auto replay = Read(bob, alice, "c", m[3]);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, ErrorCode::kConflict);
  EXPECT_EQ(bob.store.data(), before);
  EXPECT_EQ(*Read(bob, alice, "c", m[2]), "m2");
  EXPECT_EQ(Read(bob, alice, "c", m[2]).error().code, ErrorCode::kConflict);
}

TEST_F(E2eeEngine, TamperedMessagesAreRejectedWithStateUnchanged) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string m1 = Send(alice, "c", {"bob"}, "authentic");
  // A tampered to-device envelope (every byte position) changes nothing.
  auto queued = server_.TakeQueue("bob", "b1");
  ASSERT_EQ(queued.size(), 1u);
  auto before = bob.store.data();
  std::string raw = *crypto::Base64Decode(queued[0].body);
  for (size_t i = 0; i < raw.size(); i += 7) {
    auto r = bob.engine.HandleToDevice("alice", "a1", Flip(queued[0].body, i));
    EXPECT_FALSE(r.ok()) << i;
  }
  EXPECT_EQ(bob.store.data(), before);
  ASSERT_TRUE(bob.engine.HandleToDevice("alice", "a1", queued[0].body).ok());
  // The same to-device message again is a replay.
  before = bob.store.data();
  EXPECT_EQ(bob.engine.HandleToDevice("alice", "a1", queued[0].body).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(bob.store.data(), before);

  // Tampered conversation messages: header, ciphertext, signature.
  size_t len = crypto::Base64Decode(m1)->size();
  for (size_t at : {size_t{0}, size_t{5}, size_t{18}, size_t{25}, len - 70, len - 3}) {
    auto r = Read(bob, alice, "c", Flip(m1, at));
    ASSERT_FALSE(r.ok()) << at;
    EXPECT_TRUE(r.error().code == ErrorCode::kForbidden ||
                r.error().code == ErrorCode::kInvalidArgument ||
                r.error().code == ErrorCode::kNotFound) << at;
  }
  EXPECT_EQ(Read(bob, alice, "c", Flip(m1, 30)).error().code, ErrorCode::kForbidden);
  // Another sender or conversation is bound into the message.
  EXPECT_FALSE(Read(bob, alice, "other", m1).ok());
  EXPECT_EQ(bob.store.data(), before);
  EXPECT_EQ(*Read(bob, alice, "c", m1), "authentic");
}

TEST_F(E2eeEngine, SkippedKeyBounds) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::vector<std::string> m;
  for (int i = 0; i <= 1001; ++i) m.push_back(Send(alice, "c", {"bob"}, std::to_string(i)));
  EXPECT_EQ(Sync(bob), 0);
  auto too_far = Read(bob, alice, "c", m[1001]);
  ASSERT_FALSE(too_far.ok());
  EXPECT_EQ(too_far.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(*Read(bob, alice, "c", m[1000]), "1000");  // skips exactly 1000
  EXPECT_EQ(*Read(bob, alice, "c", m[1001]), "1001");
  EXPECT_EQ(*Read(bob, alice, "c", m[7]), "7");
}

TEST_F(E2eeEngine, GarbageAndTruncatedInputs) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string m1 = Send(alice, "c", {"bob"}, "hello");
  auto queued = server_.TakeQueue("bob", "b1");
  auto before = bob.store.data();
  for (const std::string& junk : std::vector<std::string>{"", "!!!", "AAAA", "AQ==", std::string(200000, 'A'),
                           crypto::Base64Encode(std::string(300, '\x01'))}) {
    EXPECT_FALSE(bob.engine.DecryptMessage("c", "alice", "a1", junk).ok());
    EXPECT_FALSE(bob.engine.HandleToDevice("alice", "a1", junk).ok());
  }
  std::string env = *crypto::Base64Decode(queued[0].body);
  for (size_t n = 0; n < env.size(); ++n) {
    EXPECT_FALSE(bob.engine.HandleToDevice("alice", "a1", crypto::Base64Encode(env.substr(0, n))).ok());
  }
  EXPECT_EQ(bob.store.data(), before);
  ASSERT_TRUE(bob.engine.HandleToDevice("alice", "a1", queued[0].body).ok());
  before = bob.store.data();
  std::string msg = *crypto::Base64Decode(m1);
  for (size_t n = 0; n < msg.size(); ++n) {
    EXPECT_FALSE(bob.engine.DecryptMessage("c", "alice", "a1", crypto::Base64Encode(msg.substr(0, n))).ok());
  }
  std::string v2 = msg;
  v2[0] = 2;  // an unknown version
  EXPECT_EQ(bob.engine.DecryptMessage("c", "alice", "a1", crypto::Base64Encode(v2)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(bob.engine.DecryptMessage("c\nx", "alice", "a1", m1).ok());
  EXPECT_EQ(bob.store.data(), before);
  EXPECT_EQ(*Read(bob, alice, "c", m1), "hello");
  // Oversized plaintext is refused before anything happens.
  EXPECT_EQ(alice.engine.EncryptMessage("c", {"bob"}, std::string(50000, 'x')).error().code,
            ErrorCode::kPayloadTooLarge);
}

TEST_F(E2eeEngine, KeyChangeIsReportedAndTheChainRotates) {
  Device& alice = Add("alice", "a1");
  auto bob = std::make_unique<Device>(server_, "bob", "b1", &clock_);
  ASSERT_TRUE(bob->engine.Bootstrap().ok());
  std::string m1 = Send(alice, "c", {"bob"}, "before");
  EXPECT_EQ(Sync(*bob), 0);
  EXPECT_EQ(*Read(*bob, alice, "c", m1), "before");
  EXPECT_TRUE(alice.engine.TakeKeyChanges().empty());
  std::string old_key = *bob->engine.SigningKey();

  // Bob reinstalls: same device id, new keys.
  bob = std::make_unique<Device>(server_, "bob", "b1", &clock_);
  ASSERT_TRUE(bob->engine.Bootstrap().ok());
  std::string m2 = Send(alice, "c", {"bob"}, "after");
  auto changes = alice.engine.TakeKeyChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].user_id, "bob");
  EXPECT_EQ(changes[0].device_id, "b1");
  EXPECT_EQ(changes[0].old_signing_key, old_key);
  EXPECT_EQ(changes[0].new_signing_key, *bob->engine.SigningKey());
  EXPECT_TRUE(alice.engine.TakeKeyChanges().empty());
  EXPECT_EQ(Sync(*bob), 0);
  EXPECT_EQ(*Read(*bob, alice, "c", m2), "after");
  EXPECT_FALSE(Read(*bob, alice, "c", m1).ok());  // the new install cannot read the old chain
}

TEST_F(E2eeEngine, PrekeysAreUsedOnceAndReplenished) {
  Device& bob = Add("bob", "b1");
  EXPECT_EQ(*bob.directory.CountOneTimePrekeys(), 100);
  EXPECT_EQ(bob.store.List(kKindOneTimePrekey)->size(), 100u);
  std::vector<std::unique_ptr<Device>> senders;
  for (int i = 0; i < 81; ++i) {
    senders.push_back(std::make_unique<Device>(server_, "u" + std::to_string(i), "d", &clock_));
    ASSERT_TRUE(senders.back()->engine.Bootstrap().ok());
    Send(*senders.back(), "c" + std::to_string(i), {"bob"}, "hi");
  }
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(bob.store.List(kKindOneTimePrekey)->size(), 19u);  // each deleted on first use
  EXPECT_EQ(*bob.directory.CountOneTimePrekeys(), 19);
  ASSERT_TRUE(bob.engine.Bootstrap().ok());
  EXPECT_EQ(*bob.directory.CountOneTimePrekeys(), 100);
  EXPECT_EQ(bob.store.List(kKindOneTimePrekey)->size(), 100u);
  // Key ids keep increasing.
  EXPECT_EQ(server_.users["bob"]["b1"].one_time_prekeys.back().first, 181);
}

TEST_F(E2eeEngine, SignedPrekeyRotationKeepsOldOnesForAWhile) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string m1 = Send(alice, "c", {"bob"}, "made with the first signed prekey");
  int64_t first_spk = server_.users["bob"]["b1"].keys.signed_prekey_id;
  clock_ += 8 * 86400;
  ASSERT_TRUE(bob.engine.Bootstrap().ok());
  EXPECT_GT(server_.users["bob"]["b1"].keys.signed_prekey_id, first_spk);
  EXPECT_EQ(Sync(bob), 0);  // the prekey message names the retired signed prekey
  EXPECT_EQ(*Read(bob, alice, "c", m1), "made with the first signed prekey");
  clock_ += 31 * 86400;
  ASSERT_TRUE(bob.engine.Bootstrap().ok());
  EXPECT_FALSE(bob.store.Get(kKindSignedPrekey, KeyIdName(static_cast<uint64_t>(first_spk)))->has_value());
}

TEST_F(E2eeEngine, SimultaneousSessionStarts) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  std::string ma = Send(alice, "c", {"alice", "bob"}, "from alice");
  std::string mb = Send(bob, "c", {"alice", "bob"}, "from bob");
  EXPECT_EQ(Sync(alice), 0);
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c", ma), "from alice");
  EXPECT_EQ(*Read(alice, bob, "c", mb), "from bob");
  // Both keep working in a new conversation (new distributions over the pairwise sessions).
  std::string ma2 = Send(alice, "c2", {"bob"}, "second");
  std::string mb2 = Send(bob, "c2", {"alice"}, "second too");
  EXPECT_EQ(Sync(alice), 0);
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c2", ma2), "second");
  EXPECT_EQ(*Read(alice, bob, "c2", mb2), "second too");
}

TEST_F(E2eeEngine, FailedDeliveryIsRetried) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  server_.fail_send_to_device = true;
  EXPECT_FALSE(alice.engine.EncryptMessage("c", {"bob"}, "lost").ok());
  server_.fail_send_to_device = false;
  alice.store.fail_commits = 1;
  EXPECT_FALSE(alice.engine.EncryptMessage("c", {"bob"}, "not stored").ok());
  std::string m = Send(alice, "c", {"bob"}, "delivered");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c", m), "delivered");
  EXPECT_EQ(server_.claims, 1);  // the pending session was reused, not re-claimed
}

TEST_F(E2eeEngine, SafetyNumbersMatchOnBothSides) {
  Device& alice = Add("alice", "a1");
  Add("alice", "a2");
  Device& bob = Add("bob", "b1");
  auto a = alice.engine.SafetyNumber("bob");
  auto b = bob.engine.SafetyNumber("alice");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 60u);
  EXPECT_EQ(*a, *b);
  Add("bob", "b2");
  EXPECT_NE(*alice.engine.SafetyNumber("bob"), *a);
}

TEST_F(E2eeEngine, SearchTokensAreSharedByMembersAndOffByDefault) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  EXPECT_TRUE(alice.engine.SearchTokens("c", "hello")->empty());
  ASSERT_TRUE(alice.engine.SetSearchEnabled("c", true).ok());
  std::string m = Send(alice, "c", {"bob"}, "Hello World");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c", m), "Hello World");
  ASSERT_TRUE(bob.engine.SetSearchEnabled("c", true).ok());
  auto ta = alice.engine.SearchTokens("c", "Hello World");
  auto tb = bob.engine.SearchTokens("c", "hello, WORLD!");
  ASSERT_EQ(ta->size(), 2u);
  EXPECT_EQ(*ta, *tb);
  EXPECT_EQ((*ta)[0].size(), 32u);
}

TEST_F(E2eeEngine, MediaRoundTripThroughTheEngine) {
  Device& alice = Add("alice", "a1");
  std::string file(200000, '\0');
  for (size_t i = 0; i < file.size(); ++i) file[i] = static_cast<char>(i * 31);
  std::istringstream in(file);
  std::ostringstream blob;
  auto enc = alice.engine.EncryptMedia(in, blob);
  ASSERT_TRUE(enc.ok());
  crypto::MediaInfo info{enc->key, enc->sha256, enc->plaintext_size, "application/pdf", "a.pdf"};
  auto decoded = crypto::DecodeMediaInfo(crypto::EncodeMediaInfo(info));
  ASSERT_TRUE(decoded.ok());
  std::istringstream blob_in(blob.str());
  std::ostringstream out;
  ASSERT_TRUE(Engine::DecryptMedia(blob_in, out, *decoded).ok());
  EXPECT_EQ(out.str(), file);
}

// Found by fuzz/e2ee_fuzzer.cc (corrupt-store mode): a stored prekey whose id is not a
// KeyIdName made Bootstrap throw std::invalid_argument out of std::stoull — a crash at every
// start of the app — instead of the kInternal a corrupt store gives.
TEST_F(E2eeEngine, CorruptPrekeyIdsAreInternalErrorsNotExceptions) {
  Device& bob = Add("bob", "b1");
  auto otk = bob.store.List(kKindOneTimePrekey);
  ASSERT_TRUE(otk.ok() && !otk->empty());
  const std::string otk_value = otk->front().second;
  // The server runs low on one-time prekeys: the next Bootstrap replenishes and publishes,
  // reading every stored prekey id.
  server_.users["bob"]["b1"].one_time_prekeys.clear();
  ASSERT_TRUE(bob.store.Commit({{kKindOneTimePrekey, "not-a-number", otk_value}}).ok());
  auto r = bob.engine.Bootstrap();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);

  ASSERT_TRUE(bob.store.Commit({{kKindOneTimePrekey, "not-a-number", std::nullopt}}).ok());
  auto spk = bob.store.List(kKindSignedPrekey);
  ASSERT_TRUE(spk.ok() && !spk->empty());
  ASSERT_TRUE(bob.store.Commit({{kKindSignedPrekey, "99999999999999999999999", spk->front().second}})
                  .ok());
  r = bob.engine.Bootstrap();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);

  EXPECT_EQ(ParseKeyIdName(KeyIdName(42)), 42u);
  EXPECT_EQ(ParseKeyIdName(KeyIdName(UINT64_MAX)), UINT64_MAX);
  EXPECT_FALSE(ParseKeyIdName("42"));
  EXPECT_FALSE(ParseKeyIdName("0000000000000000004x"));
  EXPECT_FALSE(ParseKeyIdName("-0000000000000000001"));
}

}  // namespace
}  // namespace parley::sdk::e2ee
