// Test support for the PostgreSQL adapter's scale-out tests (header only; tests include it).
//
// Every test gets a fresh, empty schema in the database named by PARLEY_TEST_POSTGRES_URL:
// TestSchema creates parley_t_<random> through a maintenance connection and drops it (CASCADE)
// when the last holder lets go; url() is the base URL with search_path set to that schema, so
// the store's unqualified table names land there, and application_name to the schema's name
// (so a test can find its own connections in pg_stat_activity). If PARLEY_TEST_POSTGRES_URL is unset the
// test FAILS (fatally) with a message saying so: these tests never skip.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "common/ids.h"
#include "storage/postgres/pg_conn.h"

namespace parley::storage::postgres::testing {

inline constexpr const char* kUrlVar = "PARLEY_TEST_POSTGRES_URL";

// Sets *url to the base URL, or records a fatal failure (so the caller's test body is skipped
// as failed) if the variable is unset.
inline void RequireBaseUrl(std::string* url) {
  const char* v = std::getenv(kUrlVar);
  if (!v || !*v) {
    FAIL() << kUrlVar << " is unset: the PostgreSQL adapter tests need a running PostgreSQL, "
           << "e.g. PARLEY_TEST_POSTGRES_URL=postgres://parley@127.0.0.1:5432/postgres";
  }
  *url = v;
}

class TestSchema {
 public:
  // Empty url() (and a recorded failure) if the variable is unset or the schema cannot be made.
  TestSchema() {
    std::string base;
    RequireBaseUrl(&base);
    if (base.empty()) return;
    std::string id = NewUuidV4();
    std::erase(id, '-');
    name_ = "parley_t_" + id.substr(0, 16);
    auto admin = PgConn::Connect(base);
    if (!admin.ok()) {
      ADD_FAILURE() << "cannot connect to " << kUrlVar << ": " << admin.error().message;
      return;
    }
    Status st = (*admin)->Run("CREATE SCHEMA " + name_);
    if (!st.ok()) {
      ADD_FAILURE() << "cannot create a test schema: " << st.error().message;
      return;
    }
    base_ = base;
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + name_ + "&application_name=" + name_;
  }
  ~TestSchema() {
    if (url_.empty()) return;
    auto admin = PgConn::Connect(base_);
    if (admin.ok()) (void)(*admin)->Run("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  }
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string base_;
  std::string name_;
  std::string url_;
};

}  // namespace parley::storage::postgres::testing
