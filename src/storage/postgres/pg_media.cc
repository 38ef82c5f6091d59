// PostgresStore: MediaStore methods. Contracts: storage/media_store.h. Thumbnail states are
// stored as 0 none, 1 pending, 2 ready, 3 failed (as in the SQLite adapter).
#include "storage/media_store.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

int64_t StateCode(ThumbnailState s) { return static_cast<int64_t>(s); }

ThumbnailState StateOf(int64_t code) {
  switch (code) {
    case 1: return ThumbnailState::kPending;
    case 2: return ThumbnailState::kReady;
    case 3: return ThumbnailState::kFailed;
    default: return ThumbnailState::kNone;
  }
}

Media ReadMedia(const PgResult& r, int i) {
  Media m;
  m.media_id = r.str(i, 0);
  m.uploader_id = r.str(i, 1);
  m.media_type = r.str(i, 2);
  m.blob_key = r.str(i, 3);
  m.message_id = r.opt(i, 4);
  m.created_at = r.i64(i, 5);
  m.size = static_cast<uint64_t>(r.i64(i, 6));
  m.sha256 = r.str(i, 7);
  m.filename = r.str(i, 8);
  m.thumbnail_state = StateOf(r.i64(i, 9));
  if (m.thumbnail_state == ThumbnailState::kReady && !r.null(i, 10)) {
    Thumbnail t;
    t.blob_key = r.str(i, 10);
    t.media_type = r.str(i, 11);
    t.size = static_cast<uint64_t>(r.i64(i, 12));
    t.sha256 = r.str(i, 13);
    t.width = static_cast<int>(r.i64(i, 14));
    t.height = static_cast<int>(r.i64(i, 15));
    m.thumbnail = std::move(t);
  }
  m.thumb_error = r.str(i, 16);
  return m;
}

}  // namespace

namespace {

Result<uint64_t> StoredBytesOn(PgConn& c, std::string_view uploader_id) {
  auto r = c.Exec("SELECT COALESCE(SUM(size), 0)::bigint FROM media WHERE uploader_id = $1",
                  {P(uploader_id)});
  if (!r.ok()) return r.error();
  return static_cast<uint64_t>(r->rows() ? r->i64(0, 0) : 0);
}

}  // namespace

void PostgresStore::InsertMedia(Media m, uint64_t quota_bytes, Done<Unit> done) {
  // With a quota, the uploader's key is locked for the batch (on every node): two uploads of
  // one user cannot both read the sum before either is inserted.
  JobOptions options;
  if (quota_bytes > 0) options.lock_keys.push_back("media-quota:" + m.uploader_id);
  writer_->Submit<Unit>(
      [m = std::move(m), quota_bytes](PgConn& c) -> Result<Unit> {
        if (quota_bytes > 0) {
          auto used = StoredBytesOn(c, m.uploader_id);
          if (!used.ok()) return used.error();
          if (*used + m.size > quota_bytes) return QuotaExceeded(*used, quota_bytes, m.size);
        }
        auto r = c.Exec(
            "INSERT INTO media(media_id, uploader_id, media_type, media_url, message_id, "
            "created_at, size, sha256, filename, thumb_state) "
            "VALUES ($1,$2,$3,$4,$5,$6::bigint,$7::bigint,$8,$9,$10::bigint) "
            "ON CONFLICT (media_id) DO NOTHING",
            {P(m.media_id), P(m.uploader_id), P(m.media_type), P(m.blob_key), P(m.message_id),
             P(m.created_at), P(static_cast<int64_t>(m.size)), P(m.sha256), P(m.filename),
             P(StateCode(m.thumbnail_state))});
        if (!r.ok()) return r.error();
        if (r->affected() == 0) return MakeError(ErrorCode::kConflict, "media id already exists");
        return Unit{};
      },
      std::move(done), std::move(options));
}

Result<uint64_t> PostgresStore::StoredBytes(std::string_view uploader_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  return StoredBytesOn(**c, uploader_id);
}

Result<Media> PostgresStore::GetMedia(std::string_view media_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT media_id, uploader_id, media_type, media_url, message_id, created_at, size, sha256, "
      "filename, thumb_state, thumb_key, thumb_type, thumb_size, thumb_sha256, thumb_width, "
      "thumb_height, thumb_error FROM media WHERE media_id = $1",
      {P(media_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such media");
  return ReadMedia(*r, 0);
}

void PostgresStore::SetThumbnail(std::string media_id, ThumbnailState state,
                                 std::optional<Thumbnail> thumbnail, std::string error,
                                 Done<Unit> done) {
  writer_->Submit<Unit>(
      [media_id = std::move(media_id), state, t = std::move(thumbnail),
       error = std::move(error)](PgConn& c) -> Result<Unit> {
        std::vector<PgParam> p = {P(StateCode(state))};
        if (t) {
          p.insert(p.end(), {P(t->blob_key), P(t->media_type), P(static_cast<int64_t>(t->size)),
                             P(t->sha256), P(static_cast<int64_t>(t->width)),
                             P(static_cast<int64_t>(t->height))});
        } else {
          p.insert(p.end(), 6, std::nullopt);
        }
        p.insert(p.end(), {P(error), P(media_id)});
        auto r = c.Exec(
            "UPDATE media SET thumb_state = $1::bigint, thumb_key = $2, thumb_type = $3, "
            "thumb_size = $4::bigint, thumb_sha256 = $5, thumb_width = $6::bigint, "
            "thumb_height = $7::bigint, thumb_error = $8 WHERE media_id = $9",
            p);
        if (!r.ok()) return r.error();
        if (r->affected() == 0) return MakeError(ErrorCode::kNotFound, "no such media");
        return Unit{};
      },
      std::move(done));
}

void PostgresStore::LinkMessage(std::string media_id, std::string uploader_id,
                                std::string message_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [media_id = std::move(media_id), uploader_id = std::move(uploader_id),
       message_id = std::move(message_id)](PgConn& c) -> Result<Unit> {
        auto r = c.Exec(
            "UPDATE media SET message_id = $1 WHERE media_id = $2 AND uploader_id = $3 "
            "AND message_id IS NULL",
            {P(message_id), P(media_id), P(uploader_id)});
        if (!r.ok()) return r.error();
        if (r->affected() == 0) {
          auto e = c.Exec("SELECT 1 FROM media WHERE media_id = $1", {P(media_id)});
          if (!e.ok()) return e.error();
          if (e->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such media");
        }
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<std::string>> PostgresStore::PendingThumbnails(int limit) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  // A negative limit means no limit, as in SQLite (LIMIT NULL).
  auto r = (*c)->Exec(
      "SELECT media_id FROM media WHERE thumb_state = 1 ORDER BY created_at, media_id "
      "LIMIT $1::bigint",
      {limit < 0 ? PgParam() : P(static_cast<int64_t>(limit))});
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->str(i, 0));
  return out;
}

}  // namespace parley::storage::postgres
