#include "storage/sqlite/sqlite_store.h"

#include <atomic>
#include <unordered_map>

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
  PARLEY_TRY(Migrate(**conn));
  PARLEY_TRY(MigrateAudit(**conn));
  PARLEY_TRY(MigrateNotify(**conn));
  PARLEY_TRY(MigrateGroups(**conn));
  PARLEY_TRY(MigrateMedia(**conn));
  writer_ = std::make_unique<GroupCommitWriter>(std::move(*conn), options_.max_batch,
                                                options_.faults);
  PARLEY_TRY(writer_->Start());
  return OkStatus();
}

void SqliteStore::Close() {
  if (writer_) writer_->Stop();
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

Status SqliteStore::Ping() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare("SELECT 1");
  auto r = s.Step();
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace parley::storage::sqlite
