// LocalStore as the E2EE engine's StateStore: table crypto_state(kind, id, value BLOB).
#include "sdk/store/local_store.h"

namespace parley::sdk {

Result<std::optional<std::string>> LocalStore::Get(const std::string& kind,
                                                   const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("SELECT value FROM crypto_state WHERE kind = ?1 AND id = ?2");
  if (!s.ok()) return s.error();
  s->Bind(1, kind).Bind(2, id);
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->Blob(0));
}

Result<std::vector<std::pair<std::string, std::string>>> LocalStore::List(
    const std::string& kind) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("SELECT id, value FROM crypto_state WHERE kind = ?1 ORDER BY id");
  if (!s.ok()) return s.error();
  s->Bind(1, kind);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    auto row = s->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.emplace_back(s->Text(0), s->Blob(1));
  }
  return out;
}

Result<Unit> LocalStore::Commit(const std::vector<Write>& batch) {
  std::lock_guard lock(mu_);
  store::Txn txn(db_);
  PARLEY_TRY(txn.status());
  auto put = db_.Prepare("INSERT OR REPLACE INTO crypto_state(kind, id, value) VALUES (?1, ?2, ?3)");
  if (!put.ok()) return put.error();
  auto del = db_.Prepare("DELETE FROM crypto_state WHERE kind = ?1 AND id = ?2");
  if (!del.ok()) return del.error();
  for (const Write& w : batch) {
    store::Stmt& s = w.value ? *put : *del;
    s.Bind(1, w.kind).Bind(2, w.id);
    if (w.value) s.BindBlob(3, *w.value);
    PARLEY_TRY(s.Run());
    s.Reset();
  }
  return txn.Commit();  // rolled back by ~Txn if anything above failed
}

}  // namespace parley::sdk
