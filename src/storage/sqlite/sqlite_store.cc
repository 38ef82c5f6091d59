#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "common/log.h"

namespace parley::storage::sqlite {
namespace {
std::atomic<uint64_t> g_next_instance{1};
}  // namespace

SqliteStore::SqliteStore(SqliteOptions options)
    : options_(std::move(options)), instance_id_(g_next_instance.fetch_add(1)) {}

SqliteStore::~SqliteStore() { Close(); }

Status SqliteStore::Open() {
  auto conn = SqliteConn::Open(options_.path, SqliteConn::Mode::kReadWrite, options_.synchronous);
  if (!conn.ok()) return conn.error();
  bool redo_log = options_.redo_log;
  if (redo_log) {
    // One process at a time owns the log: another (`parleyd admin …` beside the running server)
    // writes the database without one, every write committed durably.
    const std::string lock_path = options_.path + "-redo";
    redo_lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (redo_lock_fd_ < 0)
      return MakeError(ErrorCode::kUnavailable, "open " + lock_path + ": " + std::strerror(errno));
    if (::flock(redo_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK)
        return MakeError(ErrorCode::kUnavailable,
                         "lock " + lock_path + ": " + std::strerror(errno));
      LogInfo("another process writes this database: writing without the redo log",
              {{"path", options_.path}});
      ::close(redo_lock_fd_);
      redo_lock_fd_ = -1;
      redo_log = false;
    }
  }
  if (redo_log) {
    // What the redo log holds is applied on the schema it was written against, then migrated.
    PARLEY_TRY(EnsureRedoState(**conn));
    auto applied = AppliedLsn(**conn);
    if (!applied.ok()) return applied.error();
    auto replayed = RedoLog::Replay(options_.path + "-redo", **conn, *applied);
    if (!replayed.ok()) return replayed.error();
  }
  PARLEY_TRY(Migrate(**conn));
  PARLEY_TRY(MigrateAudit(**conn));
  PARLEY_TRY(MigrateNotify(**conn));
  PARLEY_TRY(MigrateGroups(**conn));
  PARLEY_TRY(MigrateMedia(**conn));
  RedoOptions redo;
  if (redo_log) redo.path = options_.path + "-redo";
  redo.durable_sync = options_.synchronous;
  redo.max_age = options_.projection_max_age;
  redo.quiet_age = options_.projection_quiet_age;
  redo.idle = options_.projection_idle;
  writer_ = std::make_unique<GroupCommitWriter>(std::move(*conn), options_.max_batch,
                                                options_.faults, std::move(redo));
  PARLEY_TRY(writer_->Start());
  return OkStatus();
}

void SqliteStore::Close() {
  if (writer_) writer_->Stop();
  if (redo_lock_fd_ >= 0) ::close(redo_lock_fd_);  // after the writer's last use of the log
  redo_lock_fd_ = -1;
}

Result<SqliteConn*> SqliteStore::Reader() {
  thread_local std::unordered_map<uint64_t, std::unique_ptr<SqliteConn>> readers;
  auto it = readers.find(instance_id_);
  if (it != readers.end()) return it->second.get();
  auto conn = SqliteConn::Open(options_.path, SqliteConn::Mode::kReadOnly, options_.synchronous);
  if (!conn.ok()) return conn.error();
  SqliteConn* raw = conn->get();
  readers.emplace(instance_id_, std::move(*conn));
  return raw;
}

Result<SqliteConn*> SqliteStore::FreshReader() {
  if (writer_) PARLEY_TRY(writer_->AwaitProjected());
  return Reader();
}

Status SqliteStore::Ping() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare("SELECT 1");
  auto r = s.Step();
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace parley::storage::sqlite
