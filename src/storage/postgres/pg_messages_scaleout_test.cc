// Scale-out test of the PostgreSQL message store: two PostgresStore instances on one database
// stand in for two parleyd nodes. Appends from several threads on both must get seqs exactly
// 1..N (no gap, no repeat), a direct conversation first written by both at once must be created
// once, and a (device, client_msg_id) sent through both must store one message. Needs
// PARLEY_TEST_POSTGRES_URL (fails, never skips, without it).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/time.h"
#include "storage/postgres/pg_test_support.h"
#include "storage/conformance/conformance.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

using conformance::Wait;

class PgMessagesScaleout : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<testing::TestSchema>();
    ASSERT_FALSE(schema_->url().empty());
    // Both nodes open (and migrate) at once, as two parleyd starting together would.
    auto open = [this](std::unique_ptr<PostgresStore>* s) {
      *s = std::make_unique<PostgresStore>(PostgresOptions{schema_->url(), 64});
      return (*s)->Open();
    };
    auto f1 = std::async(std::launch::async, open, &node1_);
    auto f2 = std::async(std::launch::async, open, &node2_);
    Status s1 = f1.get(), s2 = f2.get();
    ASSERT_TRUE(s1.ok()) << s1.error().message;
    ASSERT_TRUE(s2.ok()) << s2.error().message;
    nodes_ = {node1_.get(), node2_.get()};
    a_ = AddUser("alice");
    b_ = AddUser("bob");
    da_ = AddDevice(a_);
    db_ = AddDevice(b_);
  }
  void TearDown() override {
    if (node1_) node1_->Close();
    if (node2_) node2_->Close();
    node1_.reset();
    node2_.reset();
    schema_.reset();
  }

  User AddUser(const std::string& name) {
    User u;
    u.user_id = NewUuidV4();
    u.username = name;
    u.display_name = name;
    u.password_hash = "$argon2id$x";
    u.created_at = NowMs();
    EXPECT_TRUE(Wait<Unit>([&](auto d) { node1_->CreateUser(u, d); }).ok());
    return u;
  }
  Device AddDevice(const User& u) {
    Device d{NewUuidV4(), u.user_id, "phone", NowMs(), 0, false};
    EXPECT_TRUE(Wait<Unit>([&](auto done) { node2_->CreateDevice(d, done); }).ok());
    return d;
  }
  Result<AppendResult> Send(PostgresStore* node, const User& from, const Device& dev,
                            const User& to, const std::string& client_id) {
    AppendRequest r;
    r.conversation_id = DirectConversationId(from.user_id, to.user_id);
    r.direct_pair = {from.user_id, to.user_id};
    r.sender_id = from.user_id;
    r.sender_device_id = dev.device_id;
    r.client_msg_id = client_id;
    r.content_type = "text";
    r.encryption = "none";
    r.body = "body of " + client_id;
    return Wait<AppendResult>([&](auto d) { node->Append(r, d); });
  }
  std::string Conv() const { return DirectConversationId(a_.user_id, b_.user_id); }

  std::unique_ptr<testing::TestSchema> schema_;
  std::unique_ptr<PostgresStore> node1_, node2_;
  std::vector<PostgresStore*> nodes_;
  User a_, b_;
  Device da_, db_;
};

TEST_F(PgMessagesScaleout, ConcurrentAppendsOnTwoNodesGetSeqsExactlyOneToN) {
  constexpr int kThreadsPerNode = 4;
  constexpr int kPerThread = 60;
  constexpr int kTotal = 2 * kThreadsPerNode * kPerThread;
  std::mutex mu;
  std::vector<int64_t> seqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < kThreadsPerNode; ++t) {
      threads.emplace_back([&, n, t] {
        for (int i = 0; i < kPerThread; ++i) {
          // Both users send, so both directions race to create the direct conversation first.
          bool from_a = (t + i) % 2 == 0;
          auto r = from_a ? Send(nodes_[n], a_, da_, b_, "n" + std::to_string(n) + "t" +
                                                           std::to_string(t) + "i" +
                                                           std::to_string(i))
                          : Send(nodes_[n], b_, db_, a_, "n" + std::to_string(n) + "t" +
                                                           std::to_string(t) + "i" +
                                                           std::to_string(i));
          if (!r.ok() || r->duplicate) {
            ++failures;
            continue;
          }
          std::lock_guard lock(mu);
          seqs.push_back(r->message.seq);
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kTotal));
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(seqs[i], i + 1) << "gap or repeat at " << i;

  // What is stored agrees, read through either node.
  for (auto* node : nodes_) {
    auto conv = node->GetConversation(Conv());
    ASSERT_TRUE(conv.ok()) << conv.error().message;
    EXPECT_EQ(conv->last_seq, kTotal);
    auto page = node->History(Conv(), 1, INT64_MAX, 0, INT64_MAX, true, kTotal + 10);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_EQ(page->first.size(), static_cast<size_t>(kTotal));
    for (int i = 0; i < kTotal; ++i) EXPECT_EQ(page->first[i].seq, i + 1);
    EXPECT_FALSE(page->second);
    auto members = node->ActiveMembers(Conv());
    ASSERT_TRUE(members.ok());
    EXPECT_EQ(members->size(), 2u);
  }
  std::cerr << "writer retries after deadlocks/serialization failures: "
            << node1_->retried_batches() + node2_->retried_batches() << "\n";
}

TEST_F(PgMessagesScaleout, DuplicateClientIdsAcrossNodesStoreOneMessage) {
  constexpr int kIds = 40;
  constexpr int kSendersPerNode = 3;  // every sender sends every id
  std::mutex mu;
  std::map<std::string, std::vector<AppendResult>> results;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < kSendersPerNode; ++t) {
      threads.emplace_back([&, n, t] {
        for (int i = 0; i < kIds; ++i) {
          int k = (i + t * 7 + n * 13) % kIds;  // different orders, so the races differ
          std::string id = "dup" + std::to_string(k);
          auto r = Send(nodes_[n], a_, da_, b_, id);
          if (!r.ok()) {
            ++failures;
            continue;
          }
          std::lock_guard lock(mu);
          results[id].push_back(std::move(*r));
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(results.size(), static_cast<size_t>(kIds));
  std::vector<int64_t> seqs;
  for (const auto& [id, rs] : results) {
    ASSERT_EQ(rs.size(), static_cast<size_t>(2 * kSendersPerNode));
    int firsts = 0;
    for (const auto& r : rs) {
      if (!r.duplicate) ++firsts;
      EXPECT_EQ(r.message.message_id, rs[0].message.message_id) << id;
      EXPECT_EQ(r.message.seq, rs[0].message.seq) << id;
      EXPECT_EQ(r.message.body, "body of " + id);
    }
    EXPECT_EQ(firsts, 1) << id << " stored " << firsts << " times";
    seqs.push_back(rs[0].message.seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < kIds; ++i) EXPECT_EQ(seqs[i], i + 1);
  auto conv = node2_->GetConversation(Conv());
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->last_seq, kIds);
  // b's device has each message pending exactly once.
  auto pending = node1_->Pending(b_.user_id, db_.device_id, 1000, {}, 0);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(pending->messages.size(), static_cast<size_t>(kIds));
}

TEST_F(PgMessagesScaleout, GroupEditsOnOneNodeInterleaveGaplesslyWithAppendsOnTheOther) {
  User c = AddUser("carol");
  NewGroup ng;
  ng.group_id = NewUuidV4();
  ng.conversation_id = NewUuidV4();
  ng.name = "Team";
  ng.creator_id = a_.user_id;
  ng.members = {{a_.user_id, "owner", 0}, {b_.user_id, "member", 0}};
  ng.system_body = "created";
  auto g = Wait<GroupChange>([&](auto d) { node1_->CreateGroup(ng, d); });
  ASSERT_TRUE(g.ok()) << g.error().message;
  constexpr int kSends = 150;
  constexpr int kEdits = 20;  // add carol, remove carol, …
  std::atomic<int> failures{0};
  std::thread sender([&] {
    for (int i = 0; i < kSends; ++i) {
      AppendRequest r;
      r.conversation_id = ng.conversation_id;
      r.sender_id = a_.user_id;
      r.sender_device_id = da_.device_id;
      r.client_msg_id = "g" + std::to_string(i);
      r.content_type = "text";
      r.encryption = "none";
      r.body = "x";
      auto res = Wait<AppendResult>([&](auto d) { node2_->Append(r, d); });
      if (!res.ok()) ++failures;
    }
  });
  int64_t last_left = 0;
  for (int i = 0; i < kEdits; ++i) {
    GroupEdit e;
    e.actor_id = a_.user_id;
    if (i % 2 == 0) e.add.push_back({c.user_id, "member", 0});
    else e.remove.push_back(c.user_id);
    e.system_bodies.push_back(i % 2 == 0 ? "added" : "removed");
    auto r = Wait<GroupChange>([&](auto d) {
      node1_->EditGroup(ng.group_id, [e](const Group&) -> Result<GroupEdit> { return e; }, d);
    });
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->system_messages.size(), 1u);
    auto mc = node1_->GetMembership(ng.conversation_id, c.user_id);
    ASSERT_TRUE(mc.ok());
    if (i % 2 == 0) {
      // Joined just before its own system message, whatever appends came in between.
      EXPECT_EQ(mc->joined_seq, r->system_messages[0].seq - 1);
      EXPECT_GT(mc->joined_seq, last_left - 1);
    } else {
      ASSERT_TRUE(mc->left_seq.has_value());
      EXPECT_EQ(*mc->left_seq, r->system_messages[0].seq);
      last_left = *mc->left_seq;
    }
  }
  sender.join();
  EXPECT_EQ(failures.load(), 0);
  int64_t total = 1 + kSends + kEdits;
  auto conv = node2_->GetConversation(ng.conversation_id);
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->last_seq, total);
  auto page = node2_->History(ng.conversation_id, 1, INT64_MAX, 0, INT64_MAX, true, 1000);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->first.size(), static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) EXPECT_EQ(page->first[i].seq, i + 1);
}

// The transactional outbox: an append (or a group's system message) with PostgresOptions::outbox
// leaves an entry in its own transaction (a duplicate leaves none); an entry is claimed by one
// node at a time and goes once announced.
TEST_F(PgMessagesScaleout, OutboxEntriesAreWrittenWithTheAppendClaimedOnceAndRemoved) {
  PostgresOptions with{schema_->url(), 64};
  with.outbox = true;
  PostgresStore outboxed(with);
  ASSERT_TRUE(outboxed.Open().ok());
  auto first = Send(&outboxed, a_, da_, b_, "ob-1");
  auto second = Send(&outboxed, b_, db_, a_, "ob-2");
  auto repeat = Send(&outboxed, a_, da_, b_, "ob-1");
  auto plain = Send(node1_.get(), a_, da_, b_, "ob-3");  // a node without an outbox
  ASSERT_TRUE(first.ok() && second.ok() && repeat.ok() && plain.ok());
  ASSERT_TRUE(repeat->duplicate);
  const int64_t later = NowMs() + 60000;
  // Only entries older than the bound; each taken by one node until its claim runs out.
  auto none = node1_->ClaimUnannounced(first->message.created_at - 1, 30000, 10);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());
  auto taken = node1_->ClaimUnannounced(later, 500, 10);  // node 1 holds them for 500 ms
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 2u);
  EXPECT_EQ((*taken)[0].message_id, first->message.message_id);
  EXPECT_EQ((*taken)[0].seq, first->message.seq);
  EXPECT_EQ((*taken)[1].message_id, second->message.message_id);
  EXPECT_TRUE(node2_->ClaimUnannounced(later, 30000, 10)->empty());
  ASSERT_TRUE(node2_->MarkAnnounced({(*taken)[0]}).ok());
  // Node 1's claim runs out (it stopped, say): node 2 takes what is left, the announced one gone.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  auto again = node2_->ClaimUnannounced(later, 30000, 10);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].message_id, second->message.message_id);
  ASSERT_TRUE(node1_->MarkAnnounced(*again).ok());
  EXPECT_TRUE(node1_->ClaimUnannounced(later, 0, 10)->empty());
  // A group's system message has its entry too.
  NewGroup ng;
  ng.group_id = NewUuidV4();
  ng.conversation_id = NewUuidV4();
  ng.name = "Team";
  ng.creator_id = a_.user_id;
  ng.members = {{a_.user_id, "owner", 0}, {b_.user_id, "member", 0}};
  ng.system_body = "created";
  auto g = Wait<GroupChange>([&](auto d) { outboxed.CreateGroup(ng, d); });
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_EQ(g->system_messages.size(), 1u);
  auto system = node2_->ClaimUnannounced(later, 30000, 10);
  ASSERT_TRUE(system.ok());
  ASSERT_EQ(system->size(), 1u);
  EXPECT_EQ((*system)[0].message_id, g->system_messages[0].message_id);
  outboxed.Close();
}

}  // namespace
}  // namespace parley::storage::postgres
