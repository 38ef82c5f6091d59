// PostgresStore: the PostgreSQL (libpq) adapter of every store interface but the search index,
// for the scale-out profile (several parleyd nodes sharing one database).
//
// Writes go through one PgWriter per store (group commit on its own connection); each thread
// that reads gets its own connection (Reader()), opened on first use. Reads see committed data
// only (READ COMMITTED), which is what the SQLite adapter's WAL readers see too.
// Files: postgres_store.cc (Open/Close/Reader/Ping), pg_migrate.cc, pg_schema.cc (core, audit,
// notify, media tables), pg_auth.cc, pg_keys.cc, pg_media.cc, pg_audit.cc, pg_notify.cc; the
// message and group stores (pg_schema_messages.cc, pg_messages.cc, pg_sync.cc,
// pg_memberships.cc, pg_groups.cc) implement the rest.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/audit_store.h"
#include "storage/auth_store.h"
#include "storage/group_store.h"
#include "storage/key_store.h"
#include "storage/media_store.h"
#include "storage/message_outbox.h"
#include "storage/message_store.h"
#include "storage/notify_store.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_writer.h"

namespace parley::storage::postgres {

struct PostgresOptions {
  std::string url;         // libpq URI: postgres://user@host:port/db[?options=...]
  size_t max_batch = 1024;  // writes per group commit
  // Appends write the message's outbox entry in their transaction (storage/message_outbox.h):
  // for a shared bus, whose publish can be lost after the commit.
  bool outbox = false;
};

class PostgresStore final : public AuthStore,
                            public KeyStore,
                            public MessageStore,
                            public AuditStore,
                            public NotifyStore,
                            public GroupStore,
                            public MediaStore,
                            public MessageOutbox {
 public:
  explicit PostgresStore(PostgresOptions options);
  ~PostgresStore() override;

  // Connects, applies migrations (safe with several nodes starting at once), starts the writer.
  // Call once.
  Status Open();
  // Drains queued writes and stops the writer.
  void Close();

  uint64_t commit_batches() const { return writer_ ? writer_->batches() : 0; }
  uint64_t committed_jobs() const { return writer_ ? writer_->jobs() : 0; }
  uint64_t writer_round_trips() const { return writer_ ? writer_->round_trips() : 0; }
  // The writer's timings (see its header); nullptr before Open.
  const Histogram* batch_seconds() const { return writer_ ? &writer_->batch_seconds() : nullptr; }
  const Histogram* write_seconds() const { return writer_ ? &writer_->write_seconds() : nullptr; }
  uint64_t retried_batches() const { return writer_ ? writer_->retries() : 0; }

  // This thread's read connection, opened on first use (reconnects if it was lost).
  Result<PgConn*> Reader();
  // The writer; valid between Open and destruction.
  PgWriter& writer() { return *writer_; }

  // AuthStore
  void CreateUser(User user, Done<Unit> done) override;
  Result<User> GetUser(std::string_view user_id) override;
  Result<User> GetUserByUsername(std::string_view username) override;
  void SetPresence(std::string user_id, std::string status, std::string text, int64_t last_seen_at,
                   Done<Unit> done) override;
  void CreateDevice(Device device, Done<Unit> done) override;
  Result<Device> GetDevice(std::string_view device_id) override;
  Result<std::vector<Device>> ListDevices(std::string_view user_id) override;
  void RevokeDevice(std::string user_id, std::string device_id, Done<Unit> done) override;
  Result<std::vector<std::string>> ListRevokedDevices() override;
  void TouchDevice(std::string device_id, int64_t at, Done<Unit> done) override;
  void InsertRefreshToken(RefreshToken token, Done<Unit> done) override;
  void RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                          Done<RotateOutcome> done) override;
  void RevokeRefreshTokens(std::string device_id, Done<Unit> done) override;
  void DenyAccessToken(std::string jti, int64_t expires_at, Done<Unit> done) override;
  Result<std::vector<std::string>> ListDeniedAccessTokens(int64_t now) override;
  void SetAdmin(std::string user_id, bool admin, Done<Unit> done) override;

  // AuditStore
  void RecordAudit(AuditEntry entry, Done<int64_t> done) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& q) override;

  // NotifyStore
  void SetPushEndpoint(PushEndpoint endpoint, Done<Unit> done) override;
  Result<std::vector<PushEndpoint>> ListPushEndpoints() override;
  void AddNotification(Notification n, Done<int64_t> done) override;
  Result<std::vector<Notification>> ListNotifications(const std::string& user_id,
                                                      int64_t before_id, int limit) override;

  // KeyStore
  void PutKeys(DeviceKeys keys, size_t max_one_time, Done<Unit> done) override;
  void ClaimKeys(std::string user_id, KeyClaim how, Done<std::vector<DeviceKeys>> done) override;
  Result<int64_t> CountOneTimePrekeys(std::string_view device_id) override;

  // MessageOutbox (pg_outbox.cc)
  Status MarkAnnounced(const std::vector<OutboxEntry>& entries) override;
  Result<std::vector<OutboxEntry>> ClaimUnannounced(int64_t created_before_ms, int64_t claim_ms,
                                                    int limit) override;

  // MessageStore (pg_messages.cc, pg_sync.cc, pg_memberships.cc: part B)
  void Append(AppendRequest req, Done<AppendResult> done) override;
  Result<Conversation> GetConversation(std::string_view conversation_id) override;
  Result<Membership> GetMembership(std::string_view conversation_id,
                                   std::string_view user_id) override;
  Result<std::pair<std::vector<Message>, bool>> History(std::string_view conversation_id,
                                                        int64_t min_seq, int64_t max_seq,
                                                        int64_t after_seq, int64_t before_seq,
                                                        bool ascending, int limit) override;
  Result<Message> GetMessage(std::string_view message_id) override;
  Result<std::vector<ConversationSummary>> ListConversations(std::string_view user_id,
                                                             int limit) override;
  Result<PendingPage> Pending(std::string_view user_id, std::string_view device_id, int limit,
                              const SeqFloors& floors, int64_t to_device_after) override;
  void MarkReceipt(std::string user_id, std::string device_id, std::string conversation_id,
                   int64_t up_to_seq, bool read, int64_t now, Done<ReceiptChange> done) override;
  Result<MessageStatus> GetMessageStatus(std::string_view message_id) override;
  void EnqueueToDevice(std::vector<ToDeviceMessage> messages, ToDeviceCap cap,
                       Done<std::vector<ToDeviceMessage>> done) override;
  void AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) override;
  Result<int64_t> DeviceCursor(std::string_view device_id,
                               std::string_view conversation_id) override;
  Result<std::vector<std::string>> ActiveMembers(std::string_view conversation_id) override;
  Result<bool> CanSeeMedia(std::string_view user_id, std::string_view media_id) override;
  Result<std::vector<std::string>> Contacts(std::string_view user_id) override;
  Result<bool> SharesConversation(std::string_view a, std::string_view b) override;
  Result<std::vector<Membership>> Memberships(std::string_view user_id) override;
  Result<std::vector<Conversation>> ScanConversations(std::string_view after_id,
                                                      int limit) override;
  Status Ping() override;  // postgres_store.cc

  // GroupStore (pg_groups.cc, part B)
  void CreateGroup(NewGroup group, Done<GroupChange> done) override;
  void EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) override;
  Result<Group> GetGroup(std::string_view group_id) override;

  // MediaStore (pg_media.cc)
  void InsertMedia(Media media, uint64_t quota_bytes, Done<Unit> done) override;
  Result<Media> GetMedia(std::string_view media_id) override;
  Result<uint64_t> StoredBytes(std::string_view uploader_id) override;
  void SetThumbnail(std::string media_id, ThumbnailState state, std::optional<Thumbnail> thumbnail,
                    std::string error, Done<Unit> done) override;
  void LinkMessage(std::string media_id, std::string uploader_id, std::string message_id,
                   Done<Unit> done) override;
  Result<std::vector<std::string>> PendingThumbnails(int limit) override;

 private:
  const PostgresOptions options_;
  const uint64_t instance_id_;  // tells this store's thread-local connections from another's
  std::unique_ptr<PgWriter> writer_;
  // Every read connection this store opened (closed on destruction); each thread finds its own
  // through a thread-local map keyed by instance_id_.
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<PgConn>> readers_;  // guarded by readers_mu_
};

// Migrations of each module (pg_schema.cc; messages and groups: part B's files).
Status MigrateCore(PgConn& conn);
Status MigrateMessages(PgConn& conn);
Status MigrateGroups(PgConn& conn);
Status MigrateAudit(PgConn& conn);
Status MigrateNotify(PgConn& conn);
Status MigrateMedia(PgConn& conn);
// Every module, in order (what Open runs).
Status MigrateAll(PgConn& conn);

}  // namespace parley::storage::postgres
