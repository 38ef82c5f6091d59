// Row helpers shared by the PostgreSQL adapter's message and group files (part B): decoding a
// message row, encoding list columns, and the writes every message append makes (taking the next
// seq under the conversation row's lock, inserting the row). Not part of any store contract.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/model.h"
#include "storage/postgres/pg_conn.h"

namespace parley::storage::postgres::msg {

// The columns ReadMessage expects, in order, as a SELECT list of `messages`.
extern const char* const kMessageColumns;
// The same list qualified with a table alias: "x.conversation_id, x.seq, …".
std::string MessageColumns(std::string_view alias);
inline constexpr int kMessageColumnCount = 12;

// Decodes the message whose kMessageColumns start at column `col` of row `row`.
Message ReadMessage(const PgResult& r, int row, int col);

// JSON list encoding of media_ids / search_tokens (as the SQLite adapter stores them). An empty
// list is NULL unless keep_empty.
PgParam EncodeList(const std::vector<std::string>& items, bool keep_empty);
// The strings of a JSON list (EncodeList's, or json_agg's); anything else decodes as empty.
std::vector<std::string> DecodeList(const std::string& text);

// The outcome (column 0 of the one row) of parley_append / parley_mark_receipt: a code from 0 to
// `last_ok` is returned for the caller; 2 (not a member) is kForbidden, 3 (no such
// conversation) kNotFound; any other code, or no row, kInternal naming `what`.
Result<int64_t> FunctionOutcome(const Result<PgResult>& r, std::string_view what, int64_t last_ok);

// Active members of a conversation, by user id.
Result<std::vector<std::string>> MemberIds(PgConn& c, std::string_view conversation_id);
// The message at (conversation, seq); kNotFound if none.
Result<Message> MessageAt(PgConn& c, std::string_view conversation_id, int64_t seq);

// Locks the conversation's row until the transaction ends and returns its last_seq. Every write
// that depends on a conversation's seqs or memberships (append, receipt, group change) takes this
// lock first, so writers on different nodes serialise per conversation in one lock order.
// kNotFound if no such conversation.
Result<int64_t> LockConversation(PgConn& c, std::string_view conversation_id);

// Takes the conversation's next seq (last_seq + 1) and moves last_message_at, holding the
// conversation row's lock until the transaction ends: concurrent appenders on any node queue
// behind it, so seqs are gapless and in commit order. kNotFound if no such conversation.
Result<int64_t> NextSeq(PgConn& c, std::string_view conversation_id, int64_t now);

// Inserts `m` (its seq from NextSeq) into messages and message_media.
Status InsertMessage(PgConn& c, const Message& m);

}  // namespace parley::storage::postgres::msg
