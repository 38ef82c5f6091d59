// CqlClient against a real Cassandra (PARLEY_TEST_CASSANDRA_URL, e.g. from deploy/dev.sh env;
// every test fails if it is unset). Each test works in a keyspace of its own, dropped at the end.
#include "storage/cassandra/cql_client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "common/ids.h"

namespace parley::storage::cassandra {
namespace {

class CqlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_TEST_CASSANDRA_URL");
    ASSERT_NE(url, nullptr) << "PARLEY_TEST_CASSANDRA_URL is not set: these tests need a live "
                               "Cassandra, e.g. from deploy/dev.sh up; eval \"$(deploy/dev.sh env)\"";
    auto parsed = ParseCqlUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    url_ = *parsed;
    CqlOptions o;
    o.pool_size = 2;
    client_ = std::make_unique<CqlClient>(url_, o);
    Status ping = client_->Ping();
    ASSERT_TRUE(ping.ok()) << ping.error().message;
    ks_ = "parleytest_" + NewUuidV4().substr(0, 8);
    auto made = client_->Query("CREATE KEYSPACE " + ks_ +
                               " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    ASSERT_TRUE(made.ok()) << made.error().message;
    // The DESIGN.md messages table: bucketed partitions, seq clustering.
    auto table = client_->Query(
        "CREATE TABLE " + ks_ + ".messages (conversation_id uuid, bucket int, seq bigint, "
        "message_id uuid, sender_id text, body blob, created_at timestamp, system boolean, "
        "media_ids list<text>, PRIMARY KEY ((conversation_id, bucket), seq)) "
        "WITH CLUSTERING ORDER BY (seq ASC)");
    ASSERT_TRUE(table.ok()) << table.error().message;
  }
  void TearDown() override {
    if (client_ && !ks_.empty()) (void)client_->Query("DROP KEYSPACE IF EXISTS " + ks_);
  }

  std::string Insert() {
    return "INSERT INTO " + ks_ + ".messages (conversation_id, bucket, seq, message_id, sender_id, "
           "body, created_at, system, media_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  CqlUrl url_;
  std::unique_ptr<CqlClient> client_;
  std::string ks_;
};

TEST_F(CqlClientTest, PreparedInsertAndSelectRoundTripEveryType) {
  auto ins = client_->Prepare(Insert());
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  EXPECT_EQ((*ins)->bind.size(), 9u);
  EXPECT_EQ(client_->Prepare(Insert())->get(), ins->get()) << "cached by text";
  std::string conv = NewUuidV4(), msg = NewUuidV4();
  std::string body("\0\1binary\xff", 9);
  auto w = client_->Execute(**ins, {*CqlUuid(conv), CqlInt(0), CqlBigint(1), *CqlUuid(msg),
                                    CqlText("alice"), CqlBlob(body), CqlTimestamp(1796000000123),
                                    CqlBool(true), CqlTextList({"m1", "m2"})});
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE(client_->Execute(**ins, {*CqlUuid(conv), CqlInt(0), CqlBigint(2), *CqlUuid(msg),
                                       CqlNull(), CqlNull(), CqlNull(), CqlNull(), CqlNull()}).ok());
  auto sel = client_->Prepare("SELECT seq, message_id, sender_id, body, created_at, system, media_ids FROM " +
                              ks_ + ".messages WHERE conversation_id = ? AND bucket = ?");
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  auto rows = client_->Execute(**sel, {*CqlUuid(conv), CqlInt(0)}, {Consistency::kOne});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(*rows->Bigint(0, 0), 1);
  EXPECT_EQ(*rows->Uuid(0, 1), msg);
  EXPECT_EQ(*rows->Text(0, 2), "alice");
  EXPECT_EQ(*rows->Text(0, 3), body);
  EXPECT_EQ(*rows->Bigint(0, 4), 1796000000123);
  EXPECT_TRUE(*rows->Bool(0, 5));
  EXPECT_EQ(*rows->TextList(0, 6), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(*rows->Bigint(1, 0), 2);
  EXPECT_TRUE(rows->IsNull(1, 2));
  EXPECT_TRUE(rows->TextList(1, 6)->empty());
  EXPECT_EQ(rows->Text(0, 0).error().code, ErrorCode::kInvalidArgument) << "a bigint is not text";
}

TEST_F(CqlClientTest, PagesThroughAPartitionInClusteringOrder) {
  auto ins = client_->Prepare(Insert());
  ASSERT_TRUE(ins.ok());
  std::string conv = NewUuidV4();
  constexpr int kRows = 2345;
  // From several threads over a pool of two connections.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kRows; i += 4) {
        auto r = client_->Execute(**ins, {*CqlUuid(conv), CqlInt(7), CqlBigint(kRows - i),
                                          *CqlUuid(NewUuidV4()), CqlText("s"), CqlBlob("b"),
                                          CqlTimestamp(i), CqlBool(false), CqlNull()});
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto sel = client_->Prepare("SELECT seq FROM " + ks_ +
                              ".messages WHERE conversation_id = ? AND bucket = ? AND seq > ?");
  ASSERT_TRUE(sel.ok());
  QueryOptions o;
  o.page_size = 1000;
  std::vector<int64_t> seen;
  int pages = 0;
  do {
    auto page = client_->Execute(**sel, {*CqlUuid(conv), CqlInt(7), CqlBigint(0)}, o);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_LE(page->size(), 1000u);
    for (size_t i = 0; i < page->size(); ++i) seen.push_back(*page->Bigint(i, 0));
    o.paging_state = page->paging_state();
    ++pages;
  } while (o.paging_state && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRows));
  for (int i = 0; i < kRows; ++i) ASSERT_EQ(seen[i], i + 1) << "clustering order";
}

TEST_F(CqlClientTest, ServerErrorsAreTyped) {
  EXPECT_EQ(client_->Query("SELEKT nothing").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->Query("SELECT * FROM " + ks_ + ".nope").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->Query("CREATE TABLE " + ks_ + ".messages (a int PRIMARY KEY)").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(client_->Prepare("SELECT * FROM " + ks_ + ".nope").error().code,
            ErrorCode::kInvalidArgument);
  auto ins = client_->Prepare(Insert());
  ASSERT_TRUE(ins.ok());
  EXPECT_EQ(client_->Execute(**ins, {CqlInt(1)}).error().code, ErrorCode::kInvalidArgument);
  // A value of the wrong width for its column: the server refuses it, the connection survives.
  auto bad = client_->Execute(**ins, {CqlText("not-a-uuid"), CqlInt(0), CqlBigint(1), CqlNull(),
                                      CqlNull(), CqlNull(), CqlNull(), CqlNull(), CqlNull()});
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(client_->Ping().ok());
}

TEST_F(CqlClientTest, BadCredentialsAndUnreachableServer) {
  CqlUrl wrong = url_;
  wrong.password = "not-the-password";
  CqlClient bad(wrong, {});
  auto r = bad.Query("SELECT release_version FROM system.local");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated) << r.error().message;
  EXPECT_EQ(r.error().message.find("not-the-password"), std::string::npos);
  CqlOptions fast;
  fast.connect_timeout_ms = 300;
  CqlClient dead(*ParseCqlUrl("cassandra://u:p@127.0.0.1:1"), fast);
  EXPECT_EQ(dead.Ping().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(dead.Ping().error().code, ErrorCode::kUnavailable) << "fails fast while backing off";
  auto sys = client_->Query("SELECT release_version FROM system.local");
  ASSERT_TRUE(sys.ok());
  ASSERT_EQ(sys->size(), 1u);
  EXPECT_EQ(sys->Text(0, 0)->substr(0, 2), "5.");
}

}  // namespace
}  // namespace parley::storage::cassandra
