// SqliteStore: MediaStore methods and the "media" module's migrations.
#include <array>

#include "storage/media_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

// Append only: never edit a migration that has shipped; add the next one.
constexpr std::array<const char*, 1> kMediaMigrations = {
    // 1: the seed's media table (media_url holds the blob key) plus size, hash, file name and
    // the thumbnail's state and blob.
    R"sql(
CREATE TABLE media(
  media_id TEXT PRIMARY KEY,
  uploader_id TEXT NOT NULL,
  media_type TEXT NOT NULL,
  media_url TEXT NOT NULL,
  message_id TEXT,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  filename TEXT NOT NULL DEFAULT '',
  thumb_state INTEGER NOT NULL DEFAULT 0,
  thumb_key TEXT,
  thumb_type TEXT,
  thumb_size INTEGER,
  thumb_sha256 TEXT,
  thumb_width INTEGER,
  thumb_height INTEGER,
  thumb_error TEXT NOT NULL DEFAULT '');
CREATE INDEX media_by_uploader ON media(uploader_id, created_at);
CREATE INDEX media_thumb_pending ON media(created_at) WHERE thumb_state = 1;
)sql",
};

int64_t StateCode(ThumbnailState s) { return static_cast<int64_t>(s); }

ThumbnailState StateOf(int64_t code) {
  switch (code) {
    case 1: return ThumbnailState::kPending;
    case 2: return ThumbnailState::kReady;
    case 3: return ThumbnailState::kFailed;
    default: return ThumbnailState::kNone;
  }
}

Media ReadMedia(const Stmt& s) {
  Media m;
  m.media_id = s.Text(0);
  m.uploader_id = s.Text(1);
  m.media_type = s.Text(2);
  m.blob_key = s.Text(3);
  m.message_id = s.OptText(4);
  m.created_at = s.Int(5);
  m.size = static_cast<uint64_t>(s.Int(6));
  m.sha256 = s.Text(7);
  m.filename = s.Text(8);
  m.thumbnail_state = StateOf(s.Int(9));
  if (m.thumbnail_state == ThumbnailState::kReady && !s.IsNull(10)) {
    Thumbnail t;
    t.blob_key = s.Text(10);
    t.media_type = s.Text(11);
    t.size = static_cast<uint64_t>(s.Int(12));
    t.sha256 = s.Text(13);
    t.width = static_cast<int>(s.Int(14));
    t.height = static_cast<int>(s.Int(15));
    m.thumbnail = std::move(t);
  }
  m.thumb_error = s.Text(16);
  return m;
}

}  // namespace

Status MigrateMedia(SqliteConn& conn) { return Migrate(conn, "media", kMediaMigrations); }

namespace {

Result<uint64_t> StoredBytesOn(SqliteConn& c, std::string_view uploader_id) {
  Stmt s = c.Prepare("SELECT COALESCE(SUM(size), 0) FROM media WHERE uploader_id = ?");
  s.Bind(1, uploader_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return static_cast<uint64_t>(*row ? s.Int(0) : 0);
}

}  // namespace

void SqliteStore::InsertMedia(Media m, uint64_t quota_bytes, Done<Unit> done) {
  writer_->Submit<Unit>(
      [m = std::move(m), quota_bytes](SqliteConn& c) -> Result<Unit> {
        if (quota_bytes > 0) {
          // The writer is the only one: the sum stays true until the insert below.
          auto used = StoredBytesOn(c, m.uploader_id);
          if (!used.ok()) return used.error();
          if (*used + m.size > quota_bytes) return QuotaExceeded(*used, quota_bytes, m.size);
        }
        Stmt s = c.Prepare(
            "INSERT INTO media(media_id, uploader_id, media_type, media_url, message_id, "
            "created_at, size, sha256, filename, thumb_state) VALUES (?,?,?,?,?,?,?,?,?,?)");
        auto r = s.Bind(1, m.media_id).Bind(2, m.uploader_id).Bind(3, m.media_type)
                     .Bind(4, m.blob_key).Bind(5, m.message_id).Bind(6, m.created_at)
                     .Bind(7, static_cast<int64_t>(m.size)).Bind(8, m.sha256).Bind(9, m.filename)
                     .Bind(10, StateCode(m.thumbnail_state))
                     .Run();
        if (!r.ok()) {
          if (r.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict, "media id already exists");
          }
          return r.error();
        }
        return Unit{};
      },
      std::move(done));
}

Result<uint64_t> SqliteStore::StoredBytes(std::string_view uploader_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  return StoredBytesOn(**cr, uploader_id);
}

Result<Media> SqliteStore::GetMedia(std::string_view media_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT media_id, uploader_id, media_type, media_url, message_id, created_at, size, sha256, "
      "filename, thumb_state, thumb_key, thumb_type, thumb_size, thumb_sha256, thumb_width, "
      "thumb_height, thumb_error FROM media WHERE media_id = ?");
  s.Bind(1, media_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such media");
  return ReadMedia(s);
}

void SqliteStore::SetThumbnail(std::string media_id, ThumbnailState state,
                               std::optional<Thumbnail> thumbnail, std::string error,
                               Done<Unit> done) {
  writer_->Submit<Unit>(
      [media_id = std::move(media_id), state, t = std::move(thumbnail),
       error = std::move(error)](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "UPDATE media SET thumb_state = ?, thumb_key = ?, thumb_type = ?, thumb_size = ?, "
            "thumb_sha256 = ?, thumb_width = ?, thumb_height = ?, thumb_error = ? "
            "WHERE media_id = ?");
        s.Bind(1, StateCode(state));
        if (t) {
          s.Bind(2, t->blob_key).Bind(3, t->media_type).Bind(4, static_cast<int64_t>(t->size))
              .Bind(5, t->sha256).Bind(6, static_cast<int64_t>(t->width))
              .Bind(7, static_cast<int64_t>(t->height));
        } else {
          s.BindNull(2).BindNull(3).BindNull(4).BindNull(5).BindNull(6).BindNull(7);
        }
        auto r = s.Bind(8, error).Bind(9, media_id).Run();
        if (!r.ok()) return r.error();
        if (*r == 0) return MakeError(ErrorCode::kNotFound, "no such media");
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::LinkMessage(std::string media_id, std::string uploader_id,
                              std::string message_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [media_id = std::move(media_id), uploader_id = std::move(uploader_id),
       message_id = std::move(message_id)](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "UPDATE media SET message_id = ? WHERE media_id = ? AND uploader_id = ? "
            "AND message_id IS NULL");
        auto r = s.Bind(1, message_id).Bind(2, media_id).Bind(3, uploader_id).Run();
        if (!r.ok()) return r.error();
        if (*r == 0) {
          Stmt e = c.Prepare("SELECT 1 FROM media WHERE media_id = ?");
          e.Bind(1, media_id);
          auto row = e.Step();
          if (!row.ok()) return row.error();
          if (!*row) return MakeError(ErrorCode::kNotFound, "no such media");
        }
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<std::string>> SqliteStore::PendingThumbnails(int limit) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT media_id FROM media WHERE thumb_state = 1 ORDER BY created_at LIMIT ?");
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<std::string> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(s.Text(0));
  }
  return out;
}

}  // namespace parley::storage::sqlite
