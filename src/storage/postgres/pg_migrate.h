// Versioned schema migrations for the PostgreSQL adapter.
//
// Each module (core, messages, groups, audit, notify, media) keeps its own ordered list of
// migrations and its version in schema_versions(module, version). MigrateModule applies the
// missing ones inside one transaction that first takes pg_advisory_xact_lock(kMigrationLock), so
// several nodes starting at once apply each migration exactly once: the others wait, then see the
// new version and skip. Append only: never edit a migration that has shipped; add the next one.
// A migration may hold several statements (it is sent as one script, without parameters).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/result.h"
#include "storage/postgres/pg_conn.h"

namespace parley::storage::postgres {

inline constexpr int64_t kMigrationLock = 0x7061726c6579;  // "parley"

// `conn` must not be inside a transaction.
Status MigrateModule(PgConn& conn, std::string_view module,
                     std::span<const char* const> migrations);

}  // namespace parley::storage::postgres
