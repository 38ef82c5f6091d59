// LocalStore: one account's client database (SQLite, e.g. ~/.parley/<profile>/client.db, the path
// chosen by the caller). It holds the account and its tokens, conversations, messages (decrypted
// plaintext, or the raw body while a message waits to be decrypted), a full-text index of the
// plaintext, the sync cursor, the outbox of unacknowledged sends, contacts, and the E2EE engine's
// secret state (as parley::sdk::StateStore).
//
// The file is created with mode 0600 and opened in WAL mode with synchronous=FULL; a schema
// version table lets later versions migrate it. It holds secrets (tokens, ratchet state,
// plaintext): keep its directory 0700.
//
// Thread safety: every method may be called from any thread; one mutex inside serializes them.
// Errors: kInternal for a broken or unreadable database, kUnavailable when the file cannot be
// opened, kInvalidArgument for a bad search query. Absence is never an error (std::nullopt).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/e2ee/ports.h"
#include "sdk/store/sqlite_db.h"

namespace parley::sdk {

struct Account {
  std::string server_url, user_id, username, device_id;
  std::string access_token, refresh_token;
  int64_t access_expires_at = 0;  // ms since the epoch; 0 = unknown
};

struct LocalConversation {
  std::string conversation_id;
  std::string type;  // "direct" or "group"
  std::string title;
  std::string peer_user_id;  // direct only
  std::string group_id;      // group only
  int64_t last_seq = 0;      // highest seq stored locally
  int64_t read_seq = 0;      // what this user has read
  int64_t unread_count = 0;  // messages of others above read_seq
  int64_t last_activity_at = 0;
};

struct LocalMessage {
  std::string message_id;
  std::string conversation_id;
  int64_t seq = 0;
  std::string sender_id, sender_device_id;
  int64_t created_at = 0;
  std::string content_type = "text";
  std::string encryption = "none";
  std::optional<std::string> plaintext;  // nullopt while pending decrypt (or no text)
  std::string media_json;                // media descriptor(s), JSON; "" if none
  std::string reply_to;
  std::string status;  // local status: "received", "sent", "delivered", "read", …
  bool pending_decrypt = false;
  std::string raw_body;  // the body as received, kept while pending_decrypt
};

struct OutboxEntry {
  std::string client_msg_id;
  std::string conversation_id;  // one of conversation_id / to_user_id
  std::string to_user_id;
  std::string body;
  std::string content_type = "text";
  std::string encryption = "none";
  std::string extra_json;  // other send fields (media_ids, search_tokens, reply_to) as JSON; ""
  int64_t created_at = 0;
};

struct Contact {
  std::string user_id, username, display_name;
};

class LocalStore : public StateStore {
 public:
  // Opens (creating and migrating) the database at `path`. The directory must exist.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& path);

  static constexpr int kSchemaVersion = 1;

  // --- account: at most one row ---
  Result<std::optional<Account>> GetAccount();
  Result<Unit> SaveAccount(const Account& a);  // replaces
  // Updates only the tokens (the ApiClient token callback). kNotFound without an account.
  Result<Unit> UpdateTokens(const std::string& access_token, const std::string& refresh_token,
                            int64_t access_expires_at);

  // --- conversations ---
  // Inserts or replaces metadata (type, title, peer, group, last_activity_at); last_seq,
  // read_seq and unread_count keep the larger of the stored and the given values for seqs, and
  // the given unread_count.
  Result<Unit> UpsertConversation(const LocalConversation& c);
  Result<std::optional<LocalConversation>> GetConversation(const std::string& id);
  // Newest activity first.
  Result<std::vector<LocalConversation>> ListConversations();
  // Raises read_seq (never lowers it) and recomputes unread_count from stored messages.
  Result<Unit> MarkRead(const std::string& conversation_id, int64_t up_to_seq);

  // --- messages ---
  // Stores a message unless its message_id is already stored (de-duplication): true if stored,
  // false if it was a duplicate (nothing changed). Creates a bare conversation row if missing,
  // raises its last_seq and last_activity_at, and counts it unread when the sender is not this
  // account's user and seq > read_seq. Indexed for search when it has plaintext and is not a
  // "system" message.
  Result<bool> PutMessage(const LocalMessage& m);
  Result<std::optional<LocalMessage>> GetMessage(const std::string& message_id);
  // Newest first, seq < before_seq (0 = from the newest), at most `limit`.
  Result<std::vector<LocalMessage>> ListMessages(const std::string& conversation_id,
                                                 int64_t before_seq, int limit);
  // Messages waiting to be decrypted, oldest first.
  Result<std::vector<LocalMessage>> ListPendingDecrypt(int limit);
  // Records the decryption of a pending message: sets plaintext (indexed), content_type and
  // media_json, clears pending_decrypt and raw_body. kNotFound for an unknown message.
  Result<Unit> SetDecrypted(const std::string& message_id, const std::string& plaintext,
                            const std::string& content_type, const std::string& media_json);
  Result<Unit> SetMessageStatus(const std::string& message_id, const std::string& status);
  // Full-text search of decrypted plaintext with the server's semantics (fts_match.h), newest
  // first, optionally within one conversation. kInvalidArgument for a query with no word.
  Result<std::vector<LocalMessage>> Search(const std::string& query,
                                           const std::string& conversation_id, int limit);

  // --- sync cursor and small settings ---
  Result<std::optional<std::string>> GetMeta(const std::string& key);
  Result<Unit> SetMeta(const std::string& key, const std::string& value);
  Result<std::string> GetCursor();  // "" before the first sync
  Result<Unit> SetCursor(const std::string& cursor);

  // --- outbox: sends not yet acknowledged, replayed after a restart ---
  Result<Unit> AddOutbox(const OutboxEntry& e);  // replaces an entry with the same id
  Result<Unit> RemoveOutbox(const std::string& client_msg_id);
  Result<std::vector<OutboxEntry>> ListOutbox();  // oldest first

  // --- contacts ---
  Result<Unit> UpsertContact(const Contact& c);
  Result<std::optional<Contact>> GetContact(const std::string& user_id);
  Result<std::optional<Contact>> FindContactByUsername(const std::string& username);
  Result<std::vector<Contact>> ListContacts();  // by username

  // --- StateStore (crypto_state(kind, id, value)) ---
  Result<std::optional<std::string>> Get(const std::string& kind, const std::string& id) override;
  Result<std::vector<std::pair<std::string, std::string>>> List(const std::string& kind) override;
  Result<Unit> Commit(const std::vector<Write>& batch) override;

 private:
  LocalStore() = default;
  Result<Unit> Migrate();
  Result<int64_t> CountUnread(const std::string& conversation_id, int64_t read_seq);
  std::string SelfUserId();

  std::mutex mu_;
  store::Db db_;  // guarded by mu_
};

}  // namespace parley::sdk
