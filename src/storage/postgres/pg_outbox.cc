// PostgresStore: the MessageOutbox (storage/message_outbox.h). Entries are written by
// parley_append_outbox in the append's own transaction (pg_schema_messages.cc, migration 4) and
// removed here, outside the writer: each call is one autocommit statement on the calling
// thread's read connection, so announcing never waits behind a group commit.
#include <algorithm>

#include "common/time.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {

Status PostgresStore::MarkAnnounced(const std::vector<OutboxEntry>& entries) {
  if (entries.empty()) return OkStatus();
  std::vector<std::string> convs, seqs;
  convs.reserve(entries.size());
  seqs.reserve(entries.size());
  for (const auto& e : entries) {
    convs.push_back(e.conversation_id);
    seqs.push_back(std::to_string(e.seq));
  }
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "DELETE FROM message_outbox o USING unnest($1::text[], $2::bigint[]) AS k(conv, seq) "
      "WHERE o.conversation_id = k.conv AND o.seq = k.seq",
      {TextArray(convs), TextArray(seqs)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::vector<OutboxEntry>> PostgresStore::ClaimUnannounced(int64_t created_before_ms,
                                                                 int64_t claim_ms, int limit) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  const int64_t now = NowMs();
  // SKIP LOCKED: nodes looking at once take different entries, and none waits on an append.
  auto r = (*c)->Exec(
      "UPDATE message_outbox o SET claimed_until = $2::bigint + $3::bigint "
      "FROM (SELECT conversation_id, seq FROM message_outbox "
      "      WHERE created_at < $1::bigint AND claimed_until < $2::bigint "
      "      ORDER BY created_at LIMIT $4::bigint FOR UPDATE SKIP LOCKED) k "
      "WHERE o.conversation_id = k.conversation_id AND o.seq = k.seq "
      "RETURNING o.conversation_id, o.seq, o.message_id, o.created_at",
      {P(created_before_ms), P(now), P(claim_ms), P(static_cast<int64_t>(limit))});
  if (!r.ok()) return r.error();
  std::vector<OutboxEntry> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->str(i, 0), r->i64(i, 1), r->str(i, 2), r->i64(i, 3)});
  }
  std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.seq < b.seq;
  });
  return out;
}

}  // namespace parley::storage::postgres
