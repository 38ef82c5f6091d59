// MigrateModule: versioned migrations under a transaction-scoped advisory lock. See pg_migrate.h.
#include "storage/postgres/pg_migrate.h"

#include <string>

namespace parley::storage::postgres {
namespace {

Status ApplyLocked(PgConn& conn, std::string_view module,
                   std::span<const char* const> migrations) {
  auto lock = conn.Exec("SELECT pg_advisory_xact_lock($1::bigint)", {P(kMigrationLock)});
  if (!lock.ok()) return lock.error();
  PARLEY_TRY(conn.Run(
      "CREATE TABLE IF NOT EXISTS schema_versions(module TEXT PRIMARY KEY, "
      "version BIGINT NOT NULL)"));
  auto row = conn.Exec("SELECT version FROM schema_versions WHERE module = $1", {P(module)});
  if (!row.ok()) return row.error();
  int64_t version = row->rows() > 0 ? row->i64(0, 0) : 0;
  if (version > static_cast<int64_t>(migrations.size())) {
    return MakeError(ErrorCode::kInternal,
                     "postgres: schema of module " + std::string(module) +
                         " is newer than this build (version " + std::to_string(version) + ")");
  }
  for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
    PARLEY_TRY(conn.Run(migrations[i]));
    auto up = conn.Exec(
        "INSERT INTO schema_versions(module, version) VALUES ($1, $2::bigint) "
        "ON CONFLICT (module) DO UPDATE SET version = EXCLUDED.version",
        {P(module), P(static_cast<int64_t>(i + 1))});
    if (!up.ok()) return up.error();
  }
  return OkStatus();
}

}  // namespace

Status MigrateModule(PgConn& conn, std::string_view module,
                     std::span<const char* const> migrations) {
  PARLEY_TRY(conn.Run("BEGIN"));
  Status st = ApplyLocked(conn, module, migrations);
  if (!st.ok()) {
    (void)conn.Run("ROLLBACK");
    return st;
  }
  return conn.Run("COMMIT");
}

}  // namespace parley::storage::postgres
