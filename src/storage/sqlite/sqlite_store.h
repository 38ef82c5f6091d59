// SqliteStore: the embedded default adapter of every store interface but the search index, and
// the reference the conformance suite is written against.
//
// One writer thread owns the read-write connection (GroupCommitWriter); each thread that reads
// gets its own read-only connection (WAL lets readers run beside the writer).
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "storage/audit_store.h"
#include "storage/auth_store.h"
#include "storage/notify_store.h"
#include "storage/group_store.h"
#include "storage/key_store.h"
#include "storage/media_store.h"
#include "storage/message_store.h"
#include "storage/sqlite/writer.h"

namespace parley::storage::sqlite {

struct SqliteOptions {
  std::string path;                   // the database file; created if absent
  std::string synchronous = "full";   // full (durable on power loss) or normal
  size_t max_batch = 4096;            // writes per group commit
  // Sends and receipt marks commit through a redo log beside the database (PATH-redo):
  // storage/sqlite/redo_log.h. false: every batch commits the database itself (as also when
  // another process holds the log: `parleyd admin` beside the running server).
  bool redo_log = true;
  // When the database's transaction under the log commits (tests hold it open).
  std::chrono::milliseconds projection_max_age{100};
  std::chrono::milliseconds projection_quiet_age{5};
  std::chrono::milliseconds projection_idle{10};
  WriteFaults faults;                 // tests only
};

class SqliteStore final : public AuthStore,
                          public KeyStore,
                          public MessageStore,
                          public AuditStore,
                          public NotifyStore,
                          public GroupStore,
                          public MediaStore {
 public:
  explicit SqliteStore(SqliteOptions options);
  ~SqliteStore() override;

  // Opens the database, applies migrations, starts the writer. Call once.
  Status Open();
  // Drains queued writes and stops the writer.
  void Close();

  uint64_t commit_batches() const { return writer_ ? writer_->batches() : 0; }
  uint64_t committed_jobs() const { return writer_ ? writer_->jobs() : 0; }
  uint64_t projection_commits() const { return writer_ ? writer_->projection_commits() : 0; }
  uint64_t checkpoint_passes() const { return writer_ ? writer_->checkpoint_passes() : 0; }
  uint64_t checkpoint_catch_ups() const { return writer_ ? writer_->checkpoint_catch_ups() : 0; }
  // The writer's timings (see its header); nullptr before Open.
  const Histogram* batch_seconds() const { return writer_ ? &writer_->batch_seconds() : nullptr; }
  const Histogram* write_seconds() const { return writer_ ? &writer_->write_seconds() : nullptr; }

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

  // MessageStore
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
  Status Ping() override;

  // GroupStore (sqlite_groups.cc)
  void CreateGroup(NewGroup group, Done<GroupChange> done) override;
  void EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) override;
  Result<Group> GetGroup(std::string_view group_id) override;

  // MediaStore (sqlite_media.cc)
  void InsertMedia(Media media, uint64_t quota_bytes, Done<Unit> done) override;
  Result<Media> GetMedia(std::string_view media_id) override;
  Result<uint64_t> StoredBytes(std::string_view uploader_id) override;
  void SetThumbnail(std::string media_id, ThumbnailState state, std::optional<Thumbnail> thumbnail,
                    std::string error, Done<Unit> done) override;
  void LinkMessage(std::string media_id, std::string uploader_id, std::string message_id,
                   Done<Unit> done) override;
  Result<std::vector<std::string>> PendingThumbnails(int limit) override;

 private:
  // This thread's read-only connection, opened on first use.
  Result<SqliteConn*> Reader();
  // The same, once the database shows every send and mark acknowledged before the call
  // (GroupCommitWriter::AwaitProjected): for reads of messages, cursors, marks, conversations.
  Result<SqliteConn*> FreshReader();

  const SqliteOptions options_;
  const uint64_t instance_id_;  // tells this store's thread-local connections from another's
  int redo_lock_fd_ = -1;       // holds the redo log's flock while this store owns the log
  std::unique_ptr<GroupCommitWriter> writer_;
};

// Applies the core schema migrations to a read-write connection.
Status Migrate(SqliteConn& conn);
Status MigrateAudit(SqliteConn& conn);
Status MigrateNotify(SqliteConn& conn);
Status MigrateGroups(SqliteConn& conn);
Status MigrateMedia(SqliteConn& conn);
// Applies one module's migrations, tracked under `module` in schema_versions.
Status Migrate(SqliteConn& conn, std::string_view module, std::span<const char* const> migrations);

// Row decoding shared by the adapter's files.
namespace detail {
Message ReadMessage(const Stmt& s, int first_col);
extern const char* const kMessageColumns;
Result<std::vector<std::string>> MemberIds(SqliteConn& c, std::string_view conversation_id);
// The message at (conversation, seq); kNotFound if none.
Result<Message> MessageAt(SqliteConn& c, std::string_view conversation_id, int64_t seq);
}  // namespace detail

}  // namespace parley::storage::sqlite
