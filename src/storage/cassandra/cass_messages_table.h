// CassMessagesTable: the Cassandra side of the scale-out message store — the `messages` table of
// DESIGN.md, bucketed so no partition grows without bound:
//
//   messages ((conversation_id, bucket), seq)   bucket = seq / bucket_size
//
// with the seed's column names where it has them (conversation_id, message_id, sender_id,
// message_body, created_at) and the rest of storage::Message beside them. Not a MessageStore:
// CassandraMessageStore (cassandra_message_store.h) composes it with PostgreSQL.
//
// Contract:
// - EnsureSchema creates the keyspace and table with IF NOT EXISTS; several nodes may run it at
//   once ("already exists" answers are success). The keyspace name must be [A-Za-z0-9_]{1,48}.
// - Write is an idempotent INSERT of the whole row at the write consistency: writing the same
//   message again (a retry) leaves the same row.
// - Read/Range read at the read consistency. Range returns the rows with seq in [lo, hi], seq
//   ascending or descending, at most `limit` (clamped to max_page), walking buckets in order;
//   seqs with no row (a write that failed and was never retried) are simply absent.
// - Bounds: a body above max_body_bytes, or more than max_list_items media ids / search tokens,
//   is refused (kPayloadTooLarge) before anything is sent.
// Blocking and thread-safe (CqlClient's pool); call from a blocking pool, never an I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/cassandra/cql_client.h"
#include "storage/model.h"

namespace parley::storage::cassandra {

struct CassMessagesOptions {
  std::string keyspace = "parley";
  // The keyspace's replication map (CQL), used only when the keyspace is created.
  std::string replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
  // QUORUM / LOCAL_QUORUM for several replicas; ONE is enough with a single local node.
  Consistency write_consistency = Consistency::kLocalQuorum;
  Consistency read_consistency = Consistency::kLocalQuorum;
  // Seqs per partition. Fixed for the life of a keyspace: every node must use the same value.
  int64_t bucket_size = 1000;
  size_t max_body_bytes = 1u << 20;
  size_t max_list_items = 256;
  int max_page = 1000;  // rows per Range call, whatever the caller asks
};

class CassMessagesTable {
 public:
  CassMessagesTable(CqlClient& cql, CassMessagesOptions options);

  // Keyspace and table (idempotent), then prepares the statements.
  Status Open();
  const CassMessagesOptions& options() const { return options_; }
  int64_t BucketOf(int64_t seq) const { return seq / options_.bucket_size; }

  Status CheckBounds(const Message& m) const;
  Status Write(const Message& m);
  // nullopt: no row at (conversation, seq).
  Result<std::optional<Message>> Read(const std::string& conversation_id, int64_t seq);
  Result<std::vector<Message>> Range(const std::string& conversation_id, int64_t lo, int64_t hi,
                                     bool ascending, int limit);

 private:
  Status EnsureSchema();
  Result<Message> Decode(const CqlRows& rows, size_t row) const;

  CqlClient& cql_;
  const CassMessagesOptions options_;
  std::shared_ptr<const Prepared> insert_, select_one_, select_asc_, select_desc_;
};

}  // namespace parley::storage::cassandra
