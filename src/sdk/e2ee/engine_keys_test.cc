// Who may hand this device key material (engine.h HandleToDevice): sender keys and search keys
// only from verified devices of the conversation's members, search-key epochs bounded, a sender
// key always its sender's own. Every refusal is kForbidden and leaves the store as it was.
#include <gtest/gtest.h>

#include "common/ids.h"
#include "sdk/crypto/sender_key.h"
#include "sdk/e2ee/engine_test_util.h"

namespace parley::sdk::e2ee {
namespace {
using engine_test::Device;
using engine_test::E2eeEngine;

class E2eeKeyAcceptance : public E2eeEngine {
 protected:
  // The first queued to-device message for `to`, which must come from `from`.
  std::string TakeOne(Device& to, Device& from) {
    auto queued = server_.TakeQueue(to.user_id, to.device_id);
    EXPECT_EQ(queued.size(), 1u);
    if (queued.empty()) return "";
    EXPECT_EQ(queued[0].sender_user_id, from.user_id);
    EXPECT_EQ(queued[0].sender_device_id, from.device_id);
    return queued[0].body;
  }
  // Hands `body` to `to` and expects a refusal that changed nothing.
  void ExpectRefused(Device& to, Device& from, const std::string& body) {
    auto before = to.store.data();
    int commits = to.store.commits;
    auto r = to.engine.HandleToDevice(from.user_id, from.device_id, body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kForbidden) << r.error().message;
    EXPECT_EQ(to.store.data(), before);
    EXPECT_EQ(to.store.commits, commits);
  }
  // Overwrites `d`'s search key record for `conv` and drops its sender chain, so its next send
  // distributes that key with a new chain to every member device.
  static void ForceSearchKey(Device& d, const std::string& conv, uint32_t epoch,
                             const std::string& key) {
    SearchKeyRecord r{true, epoch, key};
    ASSERT_TRUE(d.store.Commit({{kKindSearchKey, conv, EncodeSearchKey(r)},
                                {kKindSenderChain, conv, std::nullopt}}).ok());
  }
  static SearchKeyRecord SearchKeyOf(Device& d, const std::string& conv) {
    auto raw = d.store.Get(kKindSearchKey, conv);
    EXPECT_TRUE(raw.ok() && raw->has_value());
    if (!raw.ok() || !raw->has_value()) return {};
    auto r = DecodeSearchKey(**raw);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : SearchKeyRecord{};
  }
};

TEST_F(E2eeKeyAcceptance, AStrangersSenderAndSearchKeysAreRefused) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  Device& mallory = Add("mallory", "m1");
  ASSERT_TRUE(alice.engine.SetSearchEnabled("g", true).ok());
  std::string m1 = Send(alice, "g", {"alice", "bob"}, "members only");
  EXPECT_EQ(Sync(bob), 0);
  ASSERT_TRUE(bob.engine.SetSearchEnabled("g", true).ok());
  auto tokens = alice.engine.SearchTokens("g", "secret");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(*bob.engine.SearchTokens("g", "secret"), *tokens);

  // Mallory, no member of g, plants a sender key and a search key at a higher epoch.
  ForceSearchKey(mallory, "g", 7, std::string(32, 'M'));
  auto planted = mallory.engine.EncryptMessage("g", {"bob"}, "planted");
  ASSERT_TRUE(planted.ok());
  ExpectRefused(bob, mallory, TakeOne(bob, mallory));
  EXPECT_EQ(bob.engine.DecryptMessage("g", "mallory", "m1", *planted).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(*bob.engine.SearchTokens("g", "secret"), *tokens);
  EXPECT_EQ(SearchKeyOf(bob, "g").epoch, 0u);
  EXPECT_EQ(*Read(bob, alice, "g", m1), "members only");
}

TEST_F(E2eeKeyAcceptance, DirectPeersAndOwnDevicesNeedNoListButStrangersAreRefused) {
  Device& alice = Add("alice", "a1");
  Device& alice2 = Add("alice", "a2");
  Device& bob = Add("bob", "b1");
  Device& mallory = Add("mallory", "m1");
  const std::string direct = DirectConversationId("alice", "bob");
  // The fake server lists no conversation at all: a direct id proves its pair by itself.
  auto m1 = alice.engine.EncryptMessage(direct, {"bob"}, "hi bob");
  ASSERT_TRUE(m1.ok());
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(Sync(alice2), 0);
  EXPECT_EQ(*Read(bob, alice, direct, *m1), "hi bob");
  EXPECT_EQ(*Read(alice2, alice, direct, *m1), "hi bob");

  auto forged = mallory.engine.EncryptMessage(direct, {"bob"}, "not your pair");
  ASSERT_TRUE(forged.ok());
  ExpectRefused(bob, mallory, TakeOne(bob, mallory));
  // Mallory's own direct conversation with Bob is hers to key.
  const std::string theirs = DirectConversationId("bob", "mallory");
  auto m2 = mallory.engine.EncryptMessage(theirs, {"bob"}, "hello");
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, mallory, theirs, *m2), "hello");
}

TEST_F(E2eeKeyAcceptance, AFormerMemberIsRefusedAndAnOutageIsRetried) {
  Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  Device& carol = Add("carol", "c1");
  std::string m1 = Send(carol, "g", {"alice", "bob", "carol"}, "while a member");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, carol, "g", m1), "while a member");

  server_.conversations["g"] = {"alice", "bob"};  // Carol is removed
  ForceSearchKey(carol, "g", 3, std::string(32, 'C'));
  auto late = carol.engine.EncryptMessage("g", {"alice", "bob"}, "after removal");
  ASSERT_TRUE(late.ok());
  ExpectRefused(bob, carol, TakeOne(bob, carol));
  EXPECT_FALSE(bob.store.Get(kKindSearchKey, "g")->has_value());

  // A membership outage is not a refusal: the error passes through, nothing is committed, and
  // the same message is accepted once the list can be read.
  server_.conversations["g"] = {"alice", "bob", "carol"};
  ForceSearchKey(carol, "g", 4, std::string(32, 'D'));
  auto again = carol.engine.EncryptMessage("g", {"alice", "bob"}, "back again");
  ASSERT_TRUE(again.ok());
  std::string body = TakeOne(bob, carol);
  auto before = bob.store.data();
  bob.members.fail_next = true;
  auto r = bob.engine.HandleToDevice("carol", "c1", body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(bob.store.data(), before);
  ASSERT_TRUE(bob.engine.HandleToDevice("carol", "c1", body).ok());
  EXPECT_EQ(*Read(bob, carol, "g", *again), "back again");
  EXPECT_EQ(SearchKeyOf(bob, "g").epoch, 4u);
}

TEST_F(E2eeKeyAcceptance, KeysFromARevokedOrReKeyedDeviceAreRefused) {
  Device& alice = Add("alice", "a1");
  Device& alice2 = Add("alice", "a2");
  Device& bob = Add("bob", "b1");
  // Alice's second device sends, then is revoked before Bob reads its key.
  Send(alice2, "g", {"alice", "bob"}, "from a2");
  server_.RemoveDevice("alice", "a2");
  ExpectRefused(bob, alice2, TakeOne(bob, alice2));

  // The directory lists another key for a1 than the one of Bob's session with it.
  std::string m1 = Send(alice, "g", {"alice", "bob"}, "from a1");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "g", m1), "from a1");
  std::string listed = server_.users["alice"]["a1"].keys.signing_key;
  server_.users["alice"]["a1"].keys.signing_key = server_.users["bob"]["b1"].keys.signing_key;
  ForceSearchKey(alice, "g", 1, std::string(32, 'A'));
  ASSERT_TRUE(alice.engine.EncryptMessage("g", {"alice", "bob"}, "new chain").ok());
  ExpectRefused(bob, alice, TakeOne(bob, alice));
  server_.users["alice"]["a1"].keys.signing_key = listed;
}

TEST_F(E2eeKeyAcceptance, SearchKeyEpochsAreBoundedAndNeverWrap) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  ASSERT_TRUE(alice.engine.SetSearchEnabled("c", true).ok());
  Send(alice, "c", {"alice", "bob"}, "epoch 0");
  EXPECT_EQ(Sync(bob), 0);
  ASSERT_EQ(SearchKeyOf(bob, "c").epoch, 0u);

  // A member jumping further ahead than kMaxSearchEpochStep is refused, whole payload.
  ForceSearchKey(alice, "c", kMaxSearchEpochStep + 1, std::string(32, 'J'));
  std::string far = Send(alice, "c", {"alice", "bob"}, "too far");
  ExpectRefused(bob, alice, TakeOne(bob, alice));
  EXPECT_EQ(Read(bob, alice, "c", far).error().code, ErrorCode::kNotFound);
  // Exactly the step is accepted.
  ForceSearchKey(alice, "c", kMaxSearchEpochStep, std::string(32, 'K'));
  std::string step = Send(alice, "c", {"alice", "bob"}, "one step");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(*Read(bob, alice, "c", step), "one step");
  EXPECT_EQ(SearchKeyOf(bob, "c").epoch, kMaxSearchEpochStep);
  EXPECT_EQ(SearchKeyOf(bob, "c").key, std::string(32, 'K'));

  // Near the top: 2^32 - 1 is never valid, even within a step of the held epoch.
  ForceSearchKey(bob, "c", kMaxSearchEpoch - 5, std::string(32, 'B'));
  ForceSearchKey(alice, "c", UINT32_MAX, std::string(32, 'W'));
  Send(alice, "c", {"alice", "bob"}, "the wrapping epoch");
  ExpectRefused(bob, alice, TakeOne(bob, alice));
  ForceSearchKey(alice, "c", kMaxSearchEpoch, std::string(32, 'T'));
  Send(alice, "c", {"alice", "bob"}, "the top epoch");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(SearchKeyOf(bob, "c").epoch, kMaxSearchEpoch);
  // A lower epoch never replaces it.
  ForceSearchKey(alice, "c", 9, std::string(32, '0'));
  Send(alice, "c", {"alice", "bob"}, "a stale key");
  EXPECT_EQ(Sync(bob), 0);
  EXPECT_EQ(SearchKeyOf(bob, "c").epoch, kMaxSearchEpoch);
  EXPECT_EQ(SearchKeyOf(bob, "c").key, std::string(32, 'T'));
}

TEST_F(E2eeKeyAcceptance, ARotationAtTheLastEpochDropsTheSearchKey) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  Add("carol", "c1");
  ASSERT_TRUE(alice.engine.SetSearchEnabled("g", true).ok());
  Send(alice, "g", {"alice", "bob", "carol"}, "all three");
  SearchKeyRecord top = SearchKeyOf(alice, "g");
  top.epoch = kMaxSearchEpoch;
  ASSERT_TRUE(alice.store.Commit({{kKindSearchKey, "g", EncodeSearchKey(top)}}).ok());
  // Carol leaves: the rotation has no next epoch, so the key Carol holds is dropped.
  Send(alice, "g", {"alice", "bob"}, "without carol");
  SearchKeyRecord after = SearchKeyOf(alice, "g");
  EXPECT_EQ(after.epoch, kMaxSearchEpoch);
  EXPECT_TRUE(after.key.empty());
  EXPECT_TRUE(alice.engine.SearchTokens("g", "word")->empty());
  EXPECT_EQ(Sync(bob), 0);
}

// Holds before and after the membership rule: the distribution names no owner, so a member
// relaying another device's chain only gives it under the relayer's own name, and the owner's
// messages, signed over the owner's ids, do not verify under it.
TEST_F(E2eeKeyAcceptance, ARelayedSenderKeyIsTheRelayersNeverTheOwners) {
  Device& alice = Add("alice", "a1");
  Device& bob = Add("bob", "b1");
  Device& carol = Add("carol", "c1");
  std::string m1 = Send(alice, "g", {"alice", "bob", "carol"}, "alice's words");
  server_.TakeQueue("bob", "b1");  // Bob never gets Alice's own distribution
  EXPECT_EQ(Sync(carol), 0);
  auto held = carol.store.List(kKindSenderReceiver);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  ASSERT_EQ(held->front().first.rfind("g\nalice\na1\n", 0), 0u);
  auto r = crypto::ParseSenderReceiver(held->front().second);
  ASSERT_TRUE(r.ok());
  OwnChainRecord relayed{
      crypto::SenderChain{r->chain_id, r->iteration, r->chain_key, std::string(32, 'S'),
                          r->signing_public},
      {}};
  ASSERT_TRUE(carol.store.Commit({{kKindSenderChain, "g", EncodeOwnChain(relayed)}}).ok());
  Send(carol, "g", {"alice", "bob", "carol"}, "relaying");
  EXPECT_EQ(Sync(bob), 0);  // Carol is a member: her distribution is taken, as hers
  EXPECT_EQ(Read(bob, alice, "g", m1).error().code, ErrorCode::kNotFound);
  auto as_carol = bob.engine.DecryptMessage("g", "carol", "c1", m1);
  ASSERT_FALSE(as_carol.ok());
  EXPECT_EQ(as_carol.error().code, ErrorCode::kForbidden);
}

}  // namespace
}  // namespace parley::sdk::e2ee
