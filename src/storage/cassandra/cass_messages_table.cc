// CassMessagesTable: schema, row encoding and bucketed range reads; see cass_messages_table.h.
#include "storage/cassandra/cass_messages_table.h"

#include <algorithm>

namespace parley::storage::cassandra {
namespace {

constexpr const char* kColumns =
    "conversation_id, seq, message_id, sender_id, sender_device_id, created_at, content_type, "
    "encryption, message_body, media_ids, search_tokens, has_search_tokens, reply_to";

QueryOptions At(Consistency c) {
  QueryOptions o;
  o.consistency = c;
  return o;
}

bool ValidKeyspace(const std::string& ks) {
  if (ks.empty() || ks.size() > 48) return false;
  return std::all_of(ks.begin(), ks.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Schema statements are answered "already exists" when another node won the race.
Status Schema(CqlClient& cql, const std::string& cql_text) {
  auto r = cql.Query(cql_text, {}, At(Consistency::kOne));
  if (!r.ok() && r.error().code != ErrorCode::kConflict) return r.error();
  return OkStatus();
}

}  // namespace

CassMessagesTable::CassMessagesTable(CqlClient& cql, CassMessagesOptions options)
    : cql_(cql), options_(std::move(options)) {}

Status CassMessagesTable::EnsureSchema() {
  if (!ValidKeyspace(options_.keyspace))
    return MakeError(ErrorCode::kInvalidArgument, "cassandra: bad keyspace name");
  if (options_.bucket_size < 1 || options_.max_page < 1)
    return MakeError(ErrorCode::kInvalidArgument, "cassandra: bad bucket size or page size");
  PARLEY_TRY(Schema(cql_, "CREATE KEYSPACE IF NOT EXISTS " + options_.keyspace +
                              " WITH replication = " + options_.replication));
  return Schema(cql_,
                "CREATE TABLE IF NOT EXISTS " + options_.keyspace +
                    ".messages (conversation_id text, bucket bigint, seq bigint, message_id text, "
                    "sender_id text, sender_device_id text, created_at timestamp, "
                    "content_type text, encryption text, message_body blob, media_ids list<text>, "
                    "search_tokens list<text>, has_search_tokens boolean, reply_to text, "
                    "PRIMARY KEY ((conversation_id, bucket), seq)) "
                    "WITH CLUSTERING ORDER BY (seq ASC)");
}

Status CassMessagesTable::Open() {
  PARLEY_TRY(EnsureSchema());
  const std::string t = options_.keyspace + ".messages";
  auto prep = [&](const std::string& text, std::shared_ptr<const Prepared>* out) -> Status {
    auto p = cql_.Prepare(text);
    if (!p.ok()) return p.error();
    *out = *p;
    return OkStatus();
  };
  PARLEY_TRY(prep("INSERT INTO " + t + " (" + kColumns +
                      ", bucket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  &insert_));
  const std::string sel = std::string("SELECT ") + kColumns + " FROM " + t +
                          " WHERE conversation_id = ? AND bucket = ?";
  PARLEY_TRY(prep(sel + " AND seq = ?", &select_one_));
  PARLEY_TRY(prep(sel + " AND seq >= ? AND seq <= ? ORDER BY seq ASC LIMIT ?", &select_asc_));
  PARLEY_TRY(prep(sel + " AND seq >= ? AND seq <= ? ORDER BY seq DESC LIMIT ?", &select_desc_));
  return OkStatus();
}

Status CassMessagesTable::CheckBounds(const Message& m) const {
  if (m.body.size() > options_.max_body_bytes)
    return MakeError(ErrorCode::kPayloadTooLarge, "message body too large for the message store");
  if (m.media_ids.size() > options_.max_list_items ||
      (m.search_tokens && m.search_tokens->size() > options_.max_list_items))
    return MakeError(ErrorCode::kPayloadTooLarge, "too many media ids or search tokens");
  return OkStatus();
}

Status CassMessagesTable::Write(const Message& m) {
  PARLEY_TRY(CheckBounds(m));
  if (!insert_) return MakeError(ErrorCode::kUnavailable, "cassandra: message table not open");
  std::vector<CqlValue> v = {
      CqlText(m.conversation_id), CqlBigint(m.seq), CqlText(m.message_id), CqlText(m.sender_id),
      CqlText(m.sender_device_id), CqlTimestamp(m.created_at), CqlText(m.content_type),
      CqlText(m.encryption), CqlBlob(m.body), CqlTextList(m.media_ids),
      CqlTextList(m.search_tokens ? *m.search_tokens : std::vector<std::string>{}),
      CqlBool(m.search_tokens.has_value()), m.reply_to ? CqlText(*m.reply_to) : CqlNull(),
      CqlBigint(BucketOf(m.seq))};
  QueryOptions o;
  o.consistency = options_.write_consistency;
  o.idempotent = true;  // the same full row: sending it twice leaves the same row
  auto r = cql_.Execute(*insert_, v, o);
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<Message> CassMessagesTable::Decode(const CqlRows& rows, size_t i) const {
  Message m;
  auto text = [&](size_t col, std::string* out) -> Status {
    if (rows.IsNull(i, col)) return OkStatus();
    auto v = rows.Text(i, col);
    if (!v.ok()) return v.error();
    *out = std::move(*v);
    return OkStatus();
  };
  PARLEY_TRY(text(0, &m.conversation_id));
  auto seq = rows.Bigint(i, 1);
  if (!seq.ok()) return seq.error();
  m.seq = *seq;
  PARLEY_TRY(text(2, &m.message_id));
  PARLEY_TRY(text(3, &m.sender_id));
  PARLEY_TRY(text(4, &m.sender_device_id));
  if (!rows.IsNull(i, 5)) {
    auto at = rows.Bigint(i, 5);
    if (!at.ok()) return at.error();
    m.created_at = *at;
  }
  PARLEY_TRY(text(6, &m.content_type));
  PARLEY_TRY(text(7, &m.encryption));
  PARLEY_TRY(text(8, &m.body));
  auto media = rows.TextList(i, 9);
  if (!media.ok()) return media.error();
  m.media_ids = std::move(*media);
  auto has_tokens = rows.IsNull(i, 11) ? Result<bool>(false) : rows.Bool(i, 11);
  if (!has_tokens.ok()) return has_tokens.error();
  if (*has_tokens) {
    auto tokens = rows.TextList(i, 10);
    if (!tokens.ok()) return tokens.error();
    m.search_tokens = std::move(*tokens);
  }
  if (!rows.IsNull(i, 12)) {
    auto reply = rows.Text(i, 12);
    if (!reply.ok()) return reply.error();
    m.reply_to = std::move(*reply);
  }
  return m;
}

Result<std::optional<Message>> CassMessagesTable::Read(const std::string& conversation_id,
                                                       int64_t seq) {
  if (!select_one_) return MakeError(ErrorCode::kUnavailable, "cassandra: message table not open");
  auto rows = cql_.Execute(*select_one_,
                           {CqlText(conversation_id), CqlBigint(BucketOf(seq)), CqlBigint(seq)},
                           At(options_.read_consistency));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<Message>();
  auto m = Decode(*rows, 0);
  if (!m.ok()) return m.error();
  return std::optional<Message>(std::move(*m));
}

Result<std::vector<Message>> CassMessagesTable::Range(const std::string& conversation_id,
                                                      int64_t lo, int64_t hi, bool ascending,
                                                      int limit) {
  std::vector<Message> out;
  limit = std::min(std::max(limit, 0), options_.max_page);
  lo = std::max<int64_t>(lo, 0);
  if (lo > hi || limit == 0) return out;
  if (!select_asc_) return MakeError(ErrorCode::kUnavailable, "cassandra: message table not open");
  const int64_t bs = options_.bucket_size;
  const int64_t first = BucketOf(lo), last = BucketOf(hi);
  for (int64_t b = ascending ? first : last; ascending ? b <= last : b >= first;
       b += ascending ? 1 : -1) {
    const int64_t want = limit - static_cast<int64_t>(out.size());
    const int64_t s_lo = std::max(lo, b * bs);
    const int64_t s_hi = hi - b * bs >= bs - 1 ? b * bs + bs - 1 : hi;  // no overflow near INT64_MAX
    auto rows = cql_.Execute(ascending ? *select_asc_ : *select_desc_,
                             {CqlText(conversation_id), CqlBigint(b), CqlBigint(s_lo),
                              CqlBigint(s_hi), CqlInt(static_cast<int32_t>(want))},
                             At(options_.read_consistency));
    if (!rows.ok()) return rows.error();
    for (size_t i = 0; i < rows->size() && static_cast<int64_t>(out.size()) < limit; ++i) {
      auto m = Decode(*rows, i);
      if (!m.ok()) return m.error();
      out.push_back(std::move(*m));
    }
    if (static_cast<int64_t>(out.size()) >= limit) break;
  }
  return out;
}

}  // namespace parley::storage::cassandra
