// Config validation of the scale-out locations: --messages (Cassandra only over a PostgreSQL
// store) and --ship-logs (off or OpenSearch); the receipt window's range.
#include "common/config.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(ConfigMessages, EmptyByDefaultAndCassandraNeedsAPostgresStore) {
  Config c;
  EXPECT_TRUE(c.messages.empty());
  EXPECT_TRUE(Validate(c).ok());
  c.messages = "cassandra://u:p@127.0.0.1:9042/parley";
  EXPECT_FALSE(Validate(c).ok()) << "with the embedded SQLite store";
  c.store = "postgres://parley@127.0.0.1:5432/parley";
  EXPECT_TRUE(Validate(c).ok());
  c.messages = "mongodb://127.0.0.1/parley";
  EXPECT_FALSE(Validate(c).ok());
}

TEST(ConfigShipLogs, OffByDefaultOrAnOpenSearchUrl) {
  Config c;
  EXPECT_EQ(c.ship_logs, "off");
  EXPECT_TRUE(Validate(c).ok());
  c.ship_logs = "opensearch://127.0.0.1:9200";
  EXPECT_TRUE(Validate(c).ok());
  for (const char* bad : {"", "on", "opensearch://", "http://127.0.0.1:9200", "elk://x:1"}) {
    c.ship_logs = bad;
    EXPECT_FALSE(Validate(c).ok()) << bad;
  }
}

TEST(ConfigReceiptWindow, FiftyMsByDefaultZeroToTenSeconds) {
  Config c;
  EXPECT_EQ(c.ws_receipt_window_ms, 50);
  for (int ok : {0, 50, 10000}) {
    c.ws_receipt_window_ms = ok;
    EXPECT_TRUE(Validate(c).ok()) << ok;
  }
  for (int bad : {-1, 10001}) {
    c.ws_receipt_window_ms = bad;
    EXPECT_FALSE(Validate(c).ok()) << bad;
  }
}

}  // namespace
}  // namespace parley
