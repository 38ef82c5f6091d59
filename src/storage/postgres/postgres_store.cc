// PostgresStore: Open/Close, the per-thread read connections and Ping. See postgres_store.h.
#include "storage/postgres/postgres_store.h"

#include <atomic>
#include <unordered_map>
#include <vector>

namespace parley::storage::postgres {
namespace {
std::atomic<uint64_t> g_next_instance{1};
}  // namespace

PostgresStore::PostgresStore(PostgresOptions options)
    : options_(std::move(options)), instance_id_(g_next_instance.fetch_add(1)) {}

PostgresStore::~PostgresStore() { Close(); }

Status PostgresStore::Open() {
  if (writer_) return MakeError(ErrorCode::kInternal, "postgres store opened twice");
  {
    auto conn = PgConn::Connect(options_.url);
    if (!conn.ok()) return conn.error();
    PARLEY_TRY(MigrateAll(**conn));
  }
  auto writer = std::make_unique<PgWriter>(options_.url, options_.max_batch);
  PARLEY_TRY(writer->Start());
  writer_ = std::move(writer);
  return OkStatus();
}

void PostgresStore::Close() {
  if (writer_) writer_->Stop();
}

Result<PgConn*> PostgresStore::Reader() {
  // Keyed by instance (never reused) so two stores in one process never share a connection and
  // a destroyed store's entries are never looked up again.
  thread_local std::unordered_map<uint64_t, PgConn*> mine;
  auto it = mine.find(instance_id_);
  if (it != mine.end()) {
    if (it->second->healthy()) return it->second;
    // The link was lost: drop it and open a new one.
    std::lock_guard lock(readers_mu_);
    std::erase_if(readers_, [&](const auto& c) { return c.get() == it->second; });
    mine.erase(it);
  }
  auto conn = PgConn::Connect(options_.url);
  if (!conn.ok()) return conn.error();
  PgConn* raw = conn->get();
  {
    std::lock_guard lock(readers_mu_);
    readers_.push_back(std::move(*conn));
  }
  mine.emplace(instance_id_, raw);
  return raw;
}

Status PostgresStore::Ping() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec("SELECT 1");
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace parley::storage::postgres
