// The Cassandra message store (CassandraMessageStore over PostgresStore) against a real
// Cassandra and PostgreSQL (PARLEY_TEST_CASSANDRA_URL, PARLEY_TEST_POSTGRES_URL; the tests fail
// if either is unset): what the conformance suite (cassandra_conformance_scaleout_test.cc) does
// not cover — histories spanning several buckets, paging, a Cassandra write that fails then is
// retried, completion order, bounds, concurrent schema creation.
#include "storage/cassandra/cassandra_message_store.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "storage/cassandra/cass_test_support.h"
#include "storage/conformance/conformance.h"
#include "storage/postgres/pg_test_support.h"

namespace parley::storage::cassandra {
namespace {

using postgres::PostgresStore;

class CassandraStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::CassandraUrl();
    if (url_.host.empty()) return;
    schema_ = std::make_unique<postgres::testing::TestSchema>();
    if (schema_->url().empty()) return;
    pg_ = std::make_unique<PostgresStore>(postgres::PostgresOptions{schema_->url()});
    Status st = pg_->Open();
    ASSERT_TRUE(st.ok()) << st.error().message;
    admin_ = std::make_unique<CqlClient>(url_, CqlOptions{});
    ks_ = testing::NewKeyspaceName();
  }
  void TearDown() override {
    if (pg_) pg_->Close();
    stores_.clear();
    clients_.clear();
    proxy_.reset();
    if (admin_) (void)admin_->Query("DROP KEYSPACE IF EXISTS " + ks_);
    pg_.reset();
    schema_.reset();
  }
  // A store over the test's PostgreSQL; through the proxy if `port` is set.
  CassandraMessageStore& Open(CassMessagesOptions o, int port = 0) {
    CqlUrl u = url_;
    if (port) {
      u.host = "127.0.0.1";
      u.port = port;
    }
    CqlOptions co;
    co.reconnect_backoff_ms = 20;
    co.connect_timeout_ms = 1000;
    clients_.push_back(std::make_unique<CqlClient>(u, co));
    o.keyspace = ks_;
    stores_.push_back(std::make_unique<CassandraMessageStore>(*pg_, *clients_.back(), o));
    Status st = stores_.back()->Open();
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    return *stores_.back();
  }
  Result<AppendResult> Send(MessageStore& s, const std::string& conv, const std::string& sender,
                            const std::string& client_msg_id, const std::string& body,
                            std::vector<std::string> media = {}) {
    AppendRequest r;
    r.conversation_id = conv;
    r.direct_pair = {"alice", "bob"};
    r.sender_id = sender;
    r.sender_device_id = sender + "-d1";
    r.client_msg_id = client_msg_id;
    r.content_type = "text/plain";
    r.encryption = "none";
    r.body = body;
    r.media_ids = std::move(media);
    return conformance::Wait<AppendResult>(
        [&](Done<AppendResult> done) { s.Append(std::move(r), std::move(done)); });
  }
  std::vector<int64_t> Seqs(const std::vector<Message>& ms) {
    std::vector<int64_t> out;
    for (const auto& m : ms) out.push_back(m.seq);
    return out;
  }

  CqlUrl url_;
  std::unique_ptr<postgres::testing::TestSchema> schema_;
  std::unique_ptr<PostgresStore> pg_;
  std::unique_ptr<CqlClient> admin_;
  std::string ks_;
  std::unique_ptr<testing::CutProxy> proxy_;
  std::vector<std::unique_ptr<CqlClient>> clients_;
  std::vector<std::unique_ptr<CassandraMessageStore>> stores_;
};

TEST_F(CassandraStoreTest, HistorySpansBucketsAndPagesBothWays) {
  CassMessagesOptions o;
  o.bucket_size = 4;
  auto& s = Open(o);
  const std::string conv = "c-" + NewUuidV4();
  for (int i = 1; i <= 11; ++i) {
    auto r = Send(s, conv, i % 3 == 0 ? "bob" : "alice", "m" + std::to_string(i),
                  "body " + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->message.seq, i);
    EXPECT_EQ(r->message.body, "body " + std::to_string(i));
  }
  // The rows really are in three partitions: seqs 1-3, 4-7, 8-11.
  for (auto [bucket, n] : std::initializer_list<std::pair<int, int>>{{0, 3}, {1, 4}, {2, 4}}) {
    auto rows = admin_->Query("SELECT seq FROM " + ks_ +
                                  ".messages WHERE conversation_id = ? AND bucket = ?",
                              {CqlText(conv), CqlBigint(bucket)});
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    EXPECT_EQ(rows->size(), static_cast<size_t>(n)) << "bucket " << bucket;
  }
  auto all = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 100);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->first.size(), 11u);
  EXPECT_FALSE(all->second);
  for (int i = 0; i < 11; ++i) {
    EXPECT_EQ(all->first[i].seq, i + 1);
    EXPECT_EQ(all->first[i].body, "body " + std::to_string(i + 1));
    EXPECT_EQ(all->first[i].conversation_id, conv);
    EXPECT_EQ(all->first[i].content_type, "text/plain");
  }
  // Newest first, three at a time, across bucket boundaries.
  std::vector<int64_t> seen;
  int64_t before = INT64_MAX;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = s.History(conv, 0, INT64_MAX, 0, before, false, 3);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& m : page->first) seen.push_back(m.seq);
    if (!page->second) break;
    before = page->first.back().seq;
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  // Oldest first, five at a time, within a visible range [2, 9].
  seen.clear();
  int64_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = s.History(conv, 2, 9, after, INT64_MAX, true, 5);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& m : page->first) seen.push_back(m.seq);
    if (!page->second) break;
    after = page->first.back().seq;
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{2, 3, 4, 5, 6, 7, 8, 9}));
  // Pending for bob's device: alice's messages (bob's own are skipped), bodies from Cassandra.
  auto pending = s.Pending("bob", "bob-d1", 100, {}, 0);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(Seqs(pending->messages), (std::vector<int64_t>{1, 2, 4, 5, 7, 8, 10, 11}));
  for (const auto& m : pending->messages) EXPECT_EQ(m.body, "body " + std::to_string(m.seq));
  auto one = s.GetMessage(all->first[6].message_id);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->body, "body 7");
  auto list = s.ListConversations("bob", 10);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 1u);
  ASSERT_TRUE((*list)[0].last_message.has_value());
  EXPECT_EQ((*list)[0].last_message->body, "body 11");
}

TEST_F(CassandraStoreTest, PostgresKeepsNoBody) {
  auto& s = Open({});
  const std::string conv = "c-" + NewUuidV4();
  ASSERT_TRUE(Send(s, conv, "alice", "a", "secret ciphertext").ok());
  auto reader = pg_->Reader();
  ASSERT_TRUE(reader.ok());
  auto r = (*reader)->Exec("SELECT body FROM messages WHERE conversation_id = $1",
                           {postgres::P(conv)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(r->str(0, 0), "");
  auto h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->first.size(), 1u);
  EXPECT_EQ(h->first[0].body, "secret ciphertext");
}

TEST_F(CassandraStoreTest, FailedCassandraWriteIsReportedAndTheRetryWritesTheRow) {
  proxy_ = std::make_unique<testing::CutProxy>(url_.host, url_.port);
  auto& via_proxy = Open({}, proxy_->port());
  auto& direct = Open({});
  const std::string conv = "c-" + NewUuidV4();
  ASSERT_TRUE(Send(via_proxy, conv, "alice", "one", "first").ok());
  proxy_->Cut();
  auto failed = Send(via_proxy, conv, "alice", "two", "second");
  ASSERT_FALSE(failed.ok()) << "Cassandra is unreachable: the send must not be acknowledged";
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable) << failed.error().message;
  // PostgreSQL committed seq 2; Cassandra has no row for it: readers stop before it.
  EXPECT_EQ(pg_->GetConversation(conv)->last_seq, 2);
  auto h = direct.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{1}));
  EXPECT_TRUE(h->second) << "seq 2 is committed: there is more, not readable yet";
  // The client retries with the same client_msg_id once Cassandra is back: the duplicate path
  // writes the missing row and, since the first attempt was answered with an error and never
  // announced, answers as a first send (the chat service then publishes it).
  proxy_->Restore();
  Result<AppendResult> retry = MakeError(ErrorCode::kUnavailable, "not tried");
  for (int i = 0; i < 50 && !retry.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    retry = Send(via_proxy, conv, "alice", "two", "second");
  }
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_FALSE(retry->duplicate);
  auto members = retry->member_ids;
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(retry->message.seq, 2);
  EXPECT_EQ(retry->message.body, "second");
  h = direct.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  ASSERT_EQ(Seqs(h->first), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(h->first[1].body, "second");
  EXPECT_EQ(h->first[1].message_id, retry->message.message_id);
  auto got = direct.GetMessage(retry->message.message_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->body, "second");
  // Once the row exists, a further repeat answers with it and rewrites nothing.
  auto again = Send(direct, conv, "alice", "two", "a different body");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.body, "second");
  EXPECT_EQ(pg_->GetConversation(conv)->last_seq, 2);
}

TEST_F(CassandraStoreTest, CompletionsOfAConversationRunInSeqOrder) {
  // The chat service publishes from `done`: a conversation's must come in commit (seq) order,
  // whatever the writer threads do, while other conversations go on beside it.
  auto& s = Open({});
  const std::string conv = "c-" + NewUuidV4(), other = "c-" + NewUuidV4();
  constexpr int kSends = 60;
  std::mutex mu;
  std::vector<int64_t> order;
  std::promise<void> all_done;
  int remaining = 2 * kSends, failures = 0;
  for (int i = 0; i < kSends; ++i) {
    for (const auto* c : {&conv, &other}) {
      AppendRequest r;
      r.conversation_id = *c;
      r.direct_pair = {"alice", "bob"};
      r.sender_id = "alice";
      r.sender_device_id = "alice-d1";
      r.client_msg_id = *c + std::to_string(i);
      r.content_type = "text";
      r.encryption = "none";
      r.body = "b" + std::to_string(i);
      s.Append(std::move(r), [&, mine = c == &conv](Result<AppendResult> res) {
        std::lock_guard l(mu);
        if (!res.ok()) ++failures;
        else if (mine) order.push_back(res->message.seq);
        if (--remaining == 0) all_done.set_value();
      });
    }
  }
  all_done.get_future().wait();
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(order.size(), static_cast<size_t>(kSends));
  for (int i = 0; i < kSends; ++i) EXPECT_EQ(order[i], i + 1) << "completion " << i;
}

TEST_F(CassandraStoreTest, BoundsAreCheckedBeforeASeqIsTaken) {
  CassMessagesOptions o;
  o.max_body_bytes = 16;
  o.max_list_items = 2;
  o.max_page = 5;
  auto& s = Open(o);
  const std::string conv = "c-" + NewUuidV4();
  auto big = Send(s, conv, "alice", "big", std::string(17, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kPayloadTooLarge);
  auto many = Send(s, conv, "alice", "many", "x", {"m1", "m2", "m3"});
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(pg_->GetConversation(conv).error().code, ErrorCode::kNotFound)
      << "nothing reached PostgreSQL";
  for (int i = 1; i <= 8; ++i)
    ASSERT_TRUE(Send(s, conv, "alice", "ok" + std::to_string(i), std::string(16, 'y')).ok());
  // A page is at most max_page rows (max_page - 1 plus the has_more probe), whatever is asked.
  auto h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 1000);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(h->second);
  auto p = s.Pending("bob", "bob-d1", 1000, {}, 0);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_LE(p->messages.size(), 5u);
  EXPECT_TRUE(p->has_more);
}

TEST_F(CassandraStoreTest, SchemaCreationIsIdempotentAcrossNodesStartingAtOnce) {
  std::vector<std::thread> nodes;
  std::vector<Status> results(3);
  std::vector<std::unique_ptr<CqlClient>> clients;
  std::vector<std::unique_ptr<CassMessagesTable>> tables;
  CassMessagesOptions o;
  o.keyspace = ks_;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<CqlClient>(url_, CqlOptions{}));
    tables.push_back(std::make_unique<CassMessagesTable>(*clients.back(), o));
  }
  for (int i = 0; i < 3; ++i) nodes.emplace_back([&, i] { results[i] = tables[i]->Open(); });
  for (auto& t : nodes) t.join();
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st.error().message;
  auto& s = Open({});  // and once more, after
  ASSERT_TRUE(Send(s, "c-" + NewUuidV4(), "alice", "x", "y").ok());
}

}  // namespace
}  // namespace parley::storage::cassandra

namespace parley::storage::cassandra {
namespace {

// A seq committed in PostgreSQL whose row another node is still writing: readers wait for it
// (bounded) rather than answer without it, so "seq s seen ⇒ everything below readable" holds.
TEST_F(CassandraStoreTest, ReadersWaitForARowStillBeingWritten) {
  auto& s = Open({});
  const std::string conv = "c-" + NewUuidV4();
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(Send(s, conv, "alice", "m" + std::to_string(i), "body " + std::to_string(i)).ok());
  auto take_row_2 = [&] {
    auto r = admin_->Query("DELETE FROM " + ks_ +
                               ".messages WHERE conversation_id = ? AND bucket = ? AND seq = ?",
                           {CqlText(conv), CqlBigint(0), CqlBigint(2)});
    ASSERT_TRUE(r.ok()) << r.error().message;
  };
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  };

  // Its writer puts it back 150 ms later (a retry of the same send writes the missing row).
  take_row_2();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto again = Send(s, conv, "alice", "m2", "body 2");
    // It completes the write (the row was missing): answered as a first send, then published.
    EXPECT_TRUE(again.ok() && !again->duplicate);
  });
  auto t0 = Clock::now();
  auto h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 10);
  auto waited = ms_since(t0);
  writer.join();
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(h->first[1].body, "body 2");
  EXPECT_GE(waited, 100);

  // A row whose writer does not come back within the bound (1 s): the read gives up waiting,
  // but never answers past the seq (ReadersNeverPassASeqWhoseRowIsMissing has the rest).
  take_row_2();
  t0 = Clock::now();
  h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, false, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{3}));
  EXPECT_TRUE(h->second);
  EXPECT_GE(ms_since(t0), 900);
  EXPECT_LT(ms_since(t0), 5000);
}

// A seq committed in PostgreSQL whose Cassandra row is missing past the wait (its write failed;
// the sender has not retried yet). Clients mark delivered up to the highest seq they got, so a
// page that held seq 3 without seq 2 would lose seq 2 for good once the retry writes it: pages
// end before the hole, and a read that would start with it fails (kUnavailable) until the row
// is there.
TEST_F(CassandraStoreTest, ReadersNeverPassASeqWhoseRowIsMissing) {
  auto& s = Open({});
  const std::string conv = "c-" + NewUuidV4(), other = "c-" + NewUuidV4();
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(Send(s, conv, "alice", "m" + std::to_string(i), "body " + std::to_string(i)).ok());
  for (int i = 1; i <= 2; ++i)
    ASSERT_TRUE(
        Send(s, other, "alice", "o" + std::to_string(i), "other " + std::to_string(i)).ok());
  const std::string id2 = s.History(conv, 2, 2, 0, INT64_MAX, true, 1)->first.at(0).message_id;
  auto r = admin_->Query("DELETE FROM " + ks_ +
                             ".messages WHERE conversation_id = ? AND bucket = ? AND seq = ?",
                         {CqlText(conv), CqlBigint(0), CqlBigint(2)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto unavailable = [](const auto& res) {
    return !res.ok() && res.error().code == ErrorCode::kUnavailable;
  };

  // History, oldest first: up to the hole, with has_more; the next page is refused.
  auto h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{1}));
  EXPECT_TRUE(h->second);
  EXPECT_TRUE(unavailable(s.History(conv, 0, INT64_MAX, 1, INT64_MAX, true, 10)));
  // Newest first: the same from the other side.
  h = s.History(conv, 0, INT64_MAX, 0, INT64_MAX, false, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{3}));
  EXPECT_TRUE(h->second);
  EXPECT_TRUE(unavailable(s.History(conv, 0, INT64_MAX, 0, 3, false, 10)));
  // A range the hole is not in reads as usual.
  h = s.History(conv, 3, 3, 0, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{3}));
  EXPECT_FALSE(h->second);

  // Pending for bob's device: the other conversation whole, this one up to the hole (has_more).
  auto p = s.Pending("bob", "bob-d1", 100, {}, 0);
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::map<std::string, std::vector<int64_t>> got;
  for (const auto& m : p->messages) got[m.conversation_id].push_back(m.seq);
  EXPECT_EQ(got[conv], (std::vector<int64_t>{1}));
  EXPECT_EQ(got[other], (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(p->has_more);
  // With those given (the WebSocket replay's floors), nothing lies before the hole: refused,
  // not an empty page the replay would take as the end.
  EXPECT_TRUE(unavailable(s.Pending("bob", "bob-d1", 100, {{conv, 1}, {other, 2}}, 0)));
  EXPECT_TRUE(unavailable(s.GetMessage(id2)));

  // The sender's retry writes the row: every reader has it, in order.
  auto retry = Send(s, conv, "alice", "m2", "body 2");
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  p = s.Pending("bob", "bob-d1", 100, {{conv, 1}, {other, 2}}, 0);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(Seqs(p->messages), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p->messages[0].body, "body 2");
  EXPECT_FALSE(p->has_more);
  h = s.History(conv, 0, INT64_MAX, 1, INT64_MAX, true, 10);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(Seqs(h->first), (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace parley::storage::cassandra
