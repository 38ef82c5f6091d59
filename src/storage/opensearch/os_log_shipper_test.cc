// OsLogShipper without an engine: the queue is bounded and logging never waits for OpenSearch.
#include "storage/opensearch/os_log_shipper.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace parley::storage::opensearch {
namespace {

LogShipperOptions Unreachable() {
  LogShipperOptions o;
  o.port = 1;  // nothing listens there
  o.timeout_ms = 500;
  o.node_id = "t";
  return o;
}

TEST(OsLogShipper, StartFailsClearlyWhenTheEngineDoesNotAnswer) {
  OsLogShipper s(Unreachable());
  Status st = s.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
}

TEST(OsLogShipper, QueueIsBoundedInLinesAndBytes) {
  auto o = Unreachable();
  o.max_queue_lines = 10;
  OsLogShipper s(o);
  boost::json::object line{{"msg", "hello"}, {"n", 1}};
  const std::string text = boost::json::serialize(line);
  for (int i = 0; i < 100; ++i) s.Offer(LogLevel::kInfo, 1000, line, text);
  EXPECT_EQ(s.dropped(), 90u);
  s.Stop();  // never started: what is queued is dropped, counted
  EXPECT_EQ(s.dropped(), 100u);
  s.Offer(LogLevel::kInfo, 1000, line, text);  // after Stop
  EXPECT_EQ(s.dropped(), 101u);
  EXPECT_EQ(s.shipped(), 0u);

  auto b = Unreachable();
  b.max_queue_bytes = 10000;
  OsLogShipper bytes(b);
  boost::json::object big{{"msg", "big"}, {"pad", std::string(1000, 'x')}};
  const std::string big_text = boost::json::serialize(big);
  for (int i = 0; i < 10; ++i) bytes.Offer(LogLevel::kWarn, 1000, big, big_text);
  // Each document is ~2.2 KB (the padding twice: in `line` and in `fields`): 4 fit in 10,000.
  EXPECT_EQ(bytes.dropped(), 6u);
}

TEST(OsLogShipper, DayIndexIsUtc) {
  OsLogShipper s(Unreachable());
  EXPECT_EQ(s.DayIndex(0), "parley-logs-1970.01.01");
  EXPECT_EQ(s.DayIndex(1796083199999), "parley-logs-2026.11.30");  // 23:59:59.999 UTC
  EXPECT_EQ(s.DayIndex(1796083200000), "parley-logs-2026.12.01");
}

TEST(LogTap, ReceivesEveryLineWrittenUntilRemoved) {
  struct Tap : LogTap {
    std::vector<std::pair<LogLevel, std::string>> got;
    void Offer(LogLevel level, int64_t, const boost::json::object& line,
               std::string_view text) noexcept override {
      EXPECT_EQ(text, boost::json::serialize(line));
      got.emplace_back(level, std::string(text));
    }
  } tap;
  SetLogTap(&tap);
  LogWarn("tap test", {{"k", "v"}});
  LogDebug("below the level: not written, not offered");
  SetLogTap(nullptr);
  LogWarn("after removal");
  ASSERT_EQ(tap.got.size(), 1u);
  EXPECT_EQ(tap.got[0].first, LogLevel::kWarn);
  EXPECT_NE(tap.got[0].second.find("\"msg\":\"tap test\""), std::string::npos);
  EXPECT_NE(tap.got[0].second.find("\"k\":\"v\""), std::string::npos);
}

}  // namespace
}  // namespace parley::storage::opensearch
