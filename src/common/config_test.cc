// Config validation of the message store's location (--messages): Cassandra only over a
// PostgreSQL store.
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

}  // namespace
}  // namespace parley
