// SqliteStore: KeyStore methods.
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {

void SqliteStore::PutKeys(DeviceKeys keys, size_t max_one_time, Done<Unit> done) {
  writer_->Submit<Unit>(
      [keys = std::move(keys), max_one_time](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "INSERT INTO device_keys(device_id, user_id, identity_key, signing_key, spk_id, "
            "spk_public, spk_signature) VALUES (?,?,?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE "
            "SET identity_key = excluded.identity_key, signing_key = excluded.signing_key, "
            "spk_id = excluded.spk_id, spk_public = excluded.spk_public, "
            "spk_signature = excluded.spk_signature");
        auto r = s.Bind(1, keys.device_id).Bind(2, keys.user_id).Bind(3, keys.identity_key)
                     .Bind(4, keys.signing_key).Bind(5, keys.signed_prekey.key_id)
                     .Bind(6, keys.signed_prekey.public_key).Bind(7, keys.signed_prekey.signature)
                     .Run();
        if (!r.ok()) return r.error();
        for (const auto& k : keys.one_time_prekeys) {
          Stmt o = c.Prepare(
              "INSERT INTO one_time_prekeys(device_id, key_id, public_key) VALUES (?,?,?) "
              "ON CONFLICT DO UPDATE SET public_key = excluded.public_key");
          auto ro = o.Bind(1, keys.device_id).Bind(2, k.key_id).Bind(3, k.public_key).Run();
          if (!ro.ok()) return ro.error();
        }
        Stmt n = c.Prepare("SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = ?");
        n.Bind(1, keys.device_id);
        auto row = n.Step();
        if (!row.ok()) return row.error();
        if (static_cast<size_t>(n.Int(0)) > max_one_time) {
          return MakeError(ErrorCode::kConflict, "too many one-time prekeys stored for this device");
        }
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::ClaimKeys(std::string user_id, KeyClaim how, Done<std::vector<DeviceKeys>> done) {
  writer_->Submit<std::vector<DeviceKeys>>(
      [user_id = std::move(user_id), how = std::move(how)](
          SqliteConn& c) -> Result<std::vector<DeviceKeys>> {
        std::vector<DeviceKeys> out;
        {
          Stmt s = c.Prepare(
              "SELECT k.device_id, k.identity_key, k.signing_key, k.spk_id, k.spk_public, "
              "k.spk_signature FROM device_keys k JOIN devices d ON d.device_id = k.device_id "
              "WHERE k.user_id = ?1 AND d.revoked_at IS NULL AND (?2 = '' OR k.device_id = ?2) "
              "ORDER BY d.created_at, k.device_id");
          s.Bind(1, user_id);
          s.Bind(2, how.device_id);
          while (true) {
            auto row = s.Step();
            if (!row.ok()) return row.error();
            if (!*row) break;
            DeviceKeys k;
            k.device_id = s.Text(0);
            k.user_id = user_id;
            k.identity_key = s.Text(1);
            k.signing_key = s.Text(2);
            k.signed_prekey = {s.Int(3), s.Text(4), s.Text(5)};
            out.push_back(std::move(k));
          }
        }
        for (auto& k : out) {
          if (!how.claim) break;
          Stmt o = c.Prepare(
              "DELETE FROM one_time_prekeys WHERE device_id = ?1 AND key_id = "
              "(SELECT MIN(key_id) FROM one_time_prekeys WHERE device_id = ?1) "
              "RETURNING key_id, public_key");
          o.Bind(1, k.device_id);
          auto row = o.Step();
          if (!row.ok()) return row.error();
          if (*row) k.one_time_prekeys.push_back({o.Int(0), o.Text(1)});
          auto rest = o.Run();  // finish the statement so the delete applies
          if (!rest.ok()) return rest.error();
        }
        return out;
      },
      std::move(done));
}

Result<int64_t> SqliteStore::CountOneTimePrekeys(std::string_view device_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare("SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = ?");
  s.Bind(1, device_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return s.Int(0);
}

}  // namespace parley::storage::sqlite
