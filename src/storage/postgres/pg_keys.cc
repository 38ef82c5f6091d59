// PostgresStore: KeyStore methods. Contracts: storage/key_store.h.
// ClaimKeys hands out each one-time prekey exactly once even with several nodes claiming at
// once: the lowest unclaimed key is picked with FOR UPDATE SKIP LOCKED and deleted in the same
// statement, so a concurrent claimer skips it and takes the next one instead of waiting.
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {

void PostgresStore::PutKeys(DeviceKeys keys, size_t max_one_time, Done<Unit> done) {
  writer_->Submit<Unit>(
      [keys = std::move(keys), max_one_time](PgConn& c) -> Result<Unit> {
        auto r = c.Exec(
            "INSERT INTO device_keys(device_id, user_id, identity_key, signing_key, spk_id, "
            "spk_public, spk_signature) VALUES ($1,$2,$3,$4,$5::bigint,$6,$7) "
            "ON CONFLICT (device_id) DO UPDATE SET identity_key = EXCLUDED.identity_key, "
            "signing_key = EXCLUDED.signing_key, spk_id = EXCLUDED.spk_id, "
            "spk_public = EXCLUDED.spk_public, spk_signature = EXCLUDED.spk_signature",
            {P(keys.device_id), P(keys.user_id), P(keys.identity_key), P(keys.signing_key),
             P(keys.signed_prekey.key_id), P(keys.signed_prekey.public_key),
             P(keys.signed_prekey.signature)});
        if (!r.ok()) return r.error();
        for (const auto& k : keys.one_time_prekeys) {
          auto o = c.Exec(
              "INSERT INTO one_time_prekeys(device_id, key_id, public_key) "
              "VALUES ($1,$2::bigint,$3) "
              "ON CONFLICT (device_id, key_id) DO UPDATE SET public_key = EXCLUDED.public_key",
              {P(keys.device_id), P(k.key_id), P(k.public_key)});
          if (!o.ok()) return o.error();
        }
        auto n = c.Exec("SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = $1",
                        {P(keys.device_id)});
        if (!n.ok()) return n.error();
        if (static_cast<size_t>(n->i64(0, 0)) > max_one_time) {
          return MakeError(ErrorCode::kConflict, "too many one-time prekeys stored for this device");
        }
        return Unit{};
      },
      std::move(done));
}

void PostgresStore::ClaimKeys(std::string user_id, KeyClaim how,
                              Done<std::vector<DeviceKeys>> done) {
  writer_->Submit<std::vector<DeviceKeys>>(
      [user_id = std::move(user_id), how = std::move(how)](
          PgConn& c) -> Result<std::vector<DeviceKeys>> {
        auto r = c.Exec(
            "SELECT k.device_id, k.identity_key, k.signing_key, k.spk_id, k.spk_public, "
            "k.spk_signature FROM device_keys k JOIN devices d ON d.device_id = k.device_id "
            "WHERE k.user_id = $1 AND d.revoked_at IS NULL AND ($2 = '' OR k.device_id = $2) "
            "ORDER BY d.created_at, k.device_id",
            {P(user_id), P(how.device_id)});
        if (!r.ok()) return r.error();
        std::vector<DeviceKeys> out;
        for (int i = 0; i < r->rows(); ++i) {
          DeviceKeys k;
          k.device_id = r->str(i, 0);
          k.user_id = user_id;
          k.identity_key = r->str(i, 1);
          k.signing_key = r->str(i, 2);
          k.signed_prekey = {r->i64(i, 3), r->str(i, 4), r->str(i, 5)};
          out.push_back(std::move(k));
        }
        if (!how.claim) return out;
        for (auto& k : out) {
          auto o = c.Exec(
              "DELETE FROM one_time_prekeys WHERE (device_id, key_id) = "
              "(SELECT device_id, key_id FROM one_time_prekeys WHERE device_id = $1 "
              "ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
              "RETURNING key_id, public_key",
              {P(k.device_id)});
          if (!o.ok()) return o.error();
          if (o->rows() > 0) k.one_time_prekeys.push_back({o->i64(0, 0), o->str(0, 1)});
        }
        return out;
      },
      std::move(done));
}

Result<int64_t> PostgresStore::CountOneTimePrekeys(std::string_view device_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec("SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = $1",
                      {P(device_id)});
  if (!r.ok()) return r.error();
  return r->i64(0, 0);
}

}  // namespace parley::storage::postgres
