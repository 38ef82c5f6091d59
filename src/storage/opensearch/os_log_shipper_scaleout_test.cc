// OsLogShipper against a live OpenSearch (PARLEY_TEST_OPENSEARCH_URL, e.g. from
// `deploy/dev.sh env`; every test fails without it): lines logged through the tap are shipped and
// found by an admin's query. Each test uses its own index prefix and deletes its indices.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "common/ids.h"
#include "common/time.h"
#include "storage/opensearch/opensearch_index.h"
#include "storage/opensearch/os_log_shipper.h"

namespace parley::storage::opensearch {
namespace {

class OsLogShipperLive : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_TEST_OPENSEARCH_URL");
    ASSERT_TRUE(url && *url) << "PARLEY_TEST_OPENSEARCH_URL is not set: these tests need a live "
                                "OpenSearch, e.g. deploy/dev.sh up && eval \"$(deploy/dev.sh env)\"";
    auto o = ParseOpenSearchUrl(url);
    ASSERT_TRUE(o.ok()) << o.error().message;
    options_.host = o->host;
    options_.port = o->port;
    options_.prefix = "t" + NewUuidV4().substr(0, 8) + "-";
    options_.node_id = "node-a";
    options_.replicas = 0;
    options_.flush_interval_ms = 100;
    http_ = std::make_unique<OsHttp>(options_.host, options_.port, 10000);
  }
  void TearDown() override {
    if (!http_) return;
    (void)http_->Send("DELETE", "/" + options_.prefix + "logs-*", "");
    (void)http_->Send("DELETE", "/_index_template/" + options_.prefix + "logs", "");
  }
  void Refresh() {
    auto r = http_->Send("POST", "/" + options_.prefix + "logs-*/_refresh", "");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::vector<LogHit> Search(LogQuery q, OsLogShipper& s) {
    auto r = s.SearchLogs(q);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<LogHit>{};
  }

  LogShipperOptions options_;
  std::unique_ptr<OsHttp> http_;
};

TEST_F(OsLogShipperLive, ShippedLinesAreFoundByWordsLevelNodeAndTime) {
  std::string marker = "mk" + NewUuidV4().substr(0, 8);
  int64_t before = NowMs();
  OsLogShipper shipper(options_);
  ASSERT_TRUE(shipper.Start().ok());
  SetLogTap(&shipper);
  LogInfo("log shipping test", {{"marker", marker}, {"user_id", "u-1"}});
  LogWarn("something went wrong", {{"marker", marker}, {"attempt", 2}});
  SetLogTap(nullptr);
  shipper.Stop();  // sends what is queued
  EXPECT_EQ(shipper.dropped(), 0u);
  EXPECT_EQ(shipper.rejected(), 0u);
  EXPECT_GE(shipper.shipped(), 2u);
  Refresh();

  LogQuery q;
  q.text = marker;
  auto hits = Search(q, shipper);
  ASSERT_EQ(hits.size(), 2u);
  std::set<std::string> msgs;
  for (const auto& h : hits) {
    msgs.insert(h.msg);
    EXPECT_EQ(h.node, "node-a");
    EXPECT_GE(h.at, before);
    EXPECT_NE(h.line.find(marker), std::string::npos) << h.line;
  }
  EXPECT_EQ(msgs, (std::set<std::string>{"log shipping test", "something went wrong"}));
  EXPECT_GE(hits[0].at, hits[1].at) << "newest first";

  q.min_level = static_cast<int>(LogLevel::kWarn);  // warnings and errors only
  hits = Search(q, shipper);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].level, "warn");
  EXPECT_EQ(hits[0].msg, "something went wrong");

  q.min_level = 0;
  q.text = marker + " shipping";  // every word must occur
  hits = Search(q, shipper);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].msg, "log shipping test");
  q.text = marker + " nosuchword";
  EXPECT_TRUE(Search(q, shipper).empty());

  q.text = marker;
  q.node = "node-b";
  EXPECT_TRUE(Search(q, shipper).empty());
  q.node = "node-a";
  q.since_ms = NowMs() + 60000;
  EXPECT_TRUE(Search(q, shipper).empty());
  q.since_ms = before;
  q.until_ms = before;  // [before, before): nothing
  EXPECT_TRUE(Search(q, shipper).empty());

  q = LogQuery{};
  q.limit = 0;
  auto bad = shipper.SearchLogs(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  q.limit = 10;
  q.text = std::string(300, 'a');
  bad = shipper.SearchLogs(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(OsLogShipperLive, ManyLinesAreShippedInBatchesWithoutLossOrDuplicates) {
  options_.batch_lines = 100;
  OsLogShipper shipper(options_);
  ASSERT_TRUE(shipper.Start().ok());
  std::string marker = "bulk" + NewUuidV4().substr(0, 8);
  boost::json::object line{{"msg", "line"}, {"marker", marker}};
  const std::string text = boost::json::serialize(line);
  for (int i = 0; i < 1000; ++i) shipper.Offer(LogLevel::kInfo, NowMs(), line, text);
  shipper.Stop();
  EXPECT_EQ(shipper.shipped(), 1000u);
  EXPECT_EQ(shipper.dropped(), 0u);
  Refresh();
  auto r = http_->Send("POST", "/" + options_.prefix + "logs-*/_count",
                       R"({"query":{"match":{"line":")" + marker + R"("}}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->body.find("\"count\":1000"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace parley::storage::opensearch
