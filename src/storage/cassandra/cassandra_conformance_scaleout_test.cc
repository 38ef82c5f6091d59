// The storage conformance suite on CassandraMessageStore: messages and groups through the
// Cassandra adapter, everything else from the PostgresStore under it, against a real Cassandra
// and PostgreSQL (PARLEY_TEST_CASSANDRA_URL, PARLEY_TEST_POSTGRES_URL; the tests fail if either
// is unset). Each test gets a PostgreSQL schema and a Cassandra keyspace of its own.
#include "storage/cassandra/cass_test_support.h"
#include "storage/cassandra/cassandra_message_store.h"
#include "storage/conformance/conformance.h"
#include "storage/postgres/pg_test_support.h"

namespace parley::storage::cassandra {
namespace {

using conformance::Stores;
using postgres::PostgresStore;

// One adapter: PostgreSQL in a schema of its own, Cassandra in a keyspace of its own.
struct Owner {
  std::shared_ptr<postgres::testing::TestSchema> schema;
  std::shared_ptr<std::string> keyspace;  // dropped by the last Owner of the test
  std::unique_ptr<PostgresStore> pg;
  std::unique_ptr<CqlClient> cql;
  std::unique_ptr<CassandraMessageStore> store;
  void Close() {
    if (pg) pg->Close();  // drains: no completion comes after this
    store.reset();
    pg.reset();
  }
  ~Owner() {
    Close();
    if (cql && keyspace.use_count() == 1) (void)cql->Query("DROP KEYSPACE IF EXISTS " + *keyspace);
  }
};

Stores OpenStores(std::shared_ptr<postgres::testing::TestSchema> schema,
                  std::shared_ptr<std::string> keyspace, CassMessagesOptions o) {
  CqlUrl url = testing::CassandraUrl();
  if (url.host.empty() || schema->url().empty()) return {};
  auto owner = std::make_shared<Owner>();
  owner->schema = schema;
  owner->keyspace = keyspace;
  owner->pg = std::make_unique<PostgresStore>(postgres::PostgresOptions{schema->url()});
  Status st = owner->pg->Open();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  owner->cql = std::make_unique<CqlClient>(url, CqlOptions{});
  o.keyspace = *keyspace;
  owner->store = std::make_unique<CassandraMessageStore>(*owner->pg, *owner->cql, o);
  st = owner->store->Open();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  PostgresStore* p = owner->pg.get();
  CassandraMessageStore* c = owner->store.get();
  Stores out{owner, p, p, c, nullptr};
  out.groups = c;
  out.media = p;
  out.reopen = [owner, schema, keyspace, o]() {
    owner->Close();
    return OpenStores(schema, keyspace, o);
  };
  return out;
}

Stores MakeCassandraStores() {
  auto schema = std::make_shared<postgres::testing::TestSchema>();
  return OpenStores(schema, std::make_shared<std::string>(testing::NewKeyspaceName()),
                    CassMessagesOptions{});
}

using conformance::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Cassandra, StoreConformance, ::testing::Values(&MakeCassandraStores),
                         [](const auto&) { return std::string("cassandra_postgres"); });

}  // namespace
}  // namespace parley::storage::cassandra
