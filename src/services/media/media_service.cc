#include "services/media/media_service.h"

#include <sodium.h>

#include <charconv>
#include <limits>
#include <span>

#include "common/async.h"
#include "common/encoding.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"
#include "events/event.h"
#include "services/media/media_headers.h"
#include "services/media/media_processor.h"
#include "transport/range.h"

namespace parley::services {

using storage::ThumbnailState;
using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

constexpr size_t kUploadChunk = 256 * 1024;  // bytes gathered per write to the blob
constexpr size_t kMaxLinkedMedia = 32;       // media ids per message (as send-message allows)

Error NoSuchMedia() { return MakeError(ErrorCode::kNotFound, "no such media"); }

// The upload's Content-Length (the transport has checked it), 0 if chunked.
uint64_t DeclaredLength(const HttpRequest& req) {
  const std::string* h = req.Header("content-length");
  uint64_t n = 0;
  if (h) std::from_chars(h->data(), h->data() + h->size(), n);
  return n;
}

std::string Etag(std::string_view sha256_hex) {
  std::string tag(1, '"');
  tag.append(sha256_hex);
  tag.push_back('"');
  return tag;
}

// A range of a blob as a response body, read on the file pool chunk by chunk.
class BlobBody final : public transport::BodySource {
 public:
  BlobBody(asio::thread_pool& pool, std::unique_ptr<storage::BlobReader> reader, uint64_t offset,
           uint64_t length)
      : pool_(pool), reader_(std::move(reader)), offset_(offset), left_(length) {}

  asio::awaitable<Result<size_t>> Read(std::span<char> out) override {
    if (left_ == 0) co_return size_t{0};
    std::span<char> want = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), left_)));
    auto n = co_await OnPool(pool_, [&] { return reader_->ReadAt(offset_, want); });
    if (!n.ok()) co_return n.error();
    offset_ += *n;
    left_ -= *n;
    co_return *n;
  }

 private:
  asio::thread_pool& pool_;
  std::unique_ptr<storage::BlobReader> reader_;
  uint64_t offset_;
  uint64_t left_;
};

}  // namespace

MediaService::MediaService(Context& ctx, storage::MediaStore& media, storage::BlobStore& blobs,
                           UrlSigner signer)
    : ctx_(ctx),
      media_(media),
      blobs_(blobs),
      signer_(std::move(signer)),
      uploads_total_(ctx.metrics.Counter("parley_media_uploads_total", "Media uploaded")),
      upload_bytes_total_(
          ctx.metrics.Counter("parley_media_upload_bytes_total", "Bytes of media uploaded")) {}

MediaService::~MediaService() { Stop(); }

void MediaService::Register(transport::Router& r) {
  auto bind = [this](Awaitable (MediaService::*fn)(HttpRequest&)) {
    return [this, fn](HttpRequest& req) { return (this->*fn)(req); };
  };
  r.AddStreaming("POST", "/v1/upload", Auth::kRequired, ctx_.config.max_upload_bytes,
                 bind(&MediaService::Upload));
  // Optional: a signed link needs no token; without one the handler asks for a token.
  r.Add("GET", "/v1/download/{media_id}", Auth::kOptional, bind(&MediaService::Download));
  r.Add("GET", "/v1/media/{media_id}", Auth::kRequired, bind(&MediaService::Info));
}

void MediaService::Start() {
  ctx_.bus.Subscribe(events::topic::kMessage, [this](std::string_view, const events::EventPtr& e) {
    if (e->type != events::type::kMessageSent) return;
    const auto* sender = e->payload.if_contains("sender_id");
    const auto* message_id = e->payload.if_contains("message_id");
    const auto* message = e->payload.if_contains("message");
    if (!sender || !sender->is_string() || !message_id || !message_id->is_string() || !message ||
        !message->is_object()) {
      return;
    }
    const auto* ids = message->as_object().if_contains("media_ids");
    if (!ids || !ids->is_array()) return;
    size_t n = 0;
    for (const auto& id : ids->as_array()) {
      if (!id.is_string() || ++n > kMaxLinkedMedia) break;
      // Not waited for: the handler must not block, and a failure only leaves message_id unset.
      media_.LinkMessage(std::string(id.as_string()), std::string(sender->as_string()),
                         std::string(message_id->as_string()), [](Result<Unit>) {});
    }
  }, events::Delivery::kOneNode);
}

void MediaService::Stop() { files_.join(); }

boost::json::object MediaService::ToJson(const storage::Media& m) const {
  int64_t expires_s = NowMs() / 1000 + ctx_.config.media_url_ttl_s;
  boost::json::object thumb{{"state", ThumbnailStateName(m.thumbnail_state)}};
  if (m.thumbnail_state == ThumbnailState::kReady && m.thumbnail) {
    thumb["url"] = signer_.SignedPath(m.media_id, "thumbnail", expires_s);
    thumb["media_type"] = m.thumbnail->media_type;
    thumb["size"] = m.thumbnail->size;
    thumb["width"] = m.thumbnail->width;
    thumb["height"] = m.thumbnail->height;
  }
  return {{"media_id", m.media_id},
          {"media_type", m.media_type},
          {"size", m.size},
          {"sha256", m.sha256},
          {"url", signer_.SignedPath(m.media_id, "original", expires_s)},
          {"url_expires_at", expires_s * 1000},
          {"created_at", m.created_at},
          {"uploader_id", m.uploader_id},
          {"filename", m.filename},
          {"thumbnail", std::move(thumb)}};
}

MediaService::Awaitable MediaService::Upload(HttpRequest& req) {
  auto type = ParseMediaType(req.Header("content-type"));
  if (!type.ok()) co_return ErrorResponse(type.error());
  auto filename = SanitizeFilename(req.Header("x-filename"));
  if (!filename.ok()) co_return ErrorResponse(filename.error());
  if (int64_t wait = ctx_.limits.upload_per_user->Allow(req.principal->user_id)) {
    co_return ErrorResponse(RateLimited(wait));
  }
  if (!req.body_reader) {
    co_return ErrorResponse(MakeError(ErrorCode::kInternal, "upload route is not streaming"));
  }
  // The storage quota: refused before any byte is read if the declared size does not fit, cut
  // off once more than fits has arrived, and checked again as the metadata is stored (with
  // concurrent uploads of the same user, only what fits is kept).
  const uint64_t quota = ctx_.config.media_quota_bytes;
  uint64_t room = std::numeric_limits<uint64_t>::max();
  if (quota > 0) {
    auto used = co_await OnPool(ctx_.blocking,
                                [&] { return media_.StoredBytes(req.principal->user_id); });
    if (!used.ok()) co_return ErrorResponse(used.error());
    const uint64_t declared = DeclaredLength(req);
    if (*used > quota || declared > quota - *used) {  // above it: the quota was lowered
      co_return ErrorResponse(storage::QuotaExceeded(*used, quota, declared));
    }
    room = quota - *used;
  }
  storage::Media m;
  m.media_id = NewUuidV4();  // random: knowing an id is as good as having been given it
  m.uploader_id = req.principal->user_id;
  m.media_type = std::move(*type);
  m.blob_key = m.media_id;
  m.filename = std::move(*filename);
  m.thumbnail_state = IsThumbnailable(m.media_type) ? ThumbnailState::kPending
                                                    : ThumbnailState::kNone;

  auto writer = co_await OnPool(files_, [&] { return blobs_.Create(m.blob_key); });
  if (!writer.ok()) co_return ErrorResponse(writer.error());
  crypto_hash_sha256_state sha;
  Status failed;
  if (crypto_hash_sha256_init(&sha) != 0) failed = MakeError(ErrorCode::kInternal, "sha256 failed");
  std::vector<char> buf(kUploadChunk);
  bool end = false;
  while (failed.ok() && !end) {
    // Gather a whole chunk from the network, then write it (and hash it) on the file pool.
    size_t filled = 0;
    while (filled < buf.size()) {
      auto n = co_await req.body_reader->Read(
          std::span<char>(buf.data() + filled, buf.size() - filled));
      if (!n.ok()) {
        failed = n.error();
        break;
      }
      if (*n == 0) {
        end = true;
        break;
      }
      filled += *n;
    }
    if (!failed.ok() || filled == 0) break;
    if ((*writer)->size() + filled > room) {
      failed = storage::QuotaExceeded(quota - room, quota, (*writer)->size() + filled);
      break;
    }
    std::span<const char> chunk(buf.data(), filled);
    failed = co_await OnPool(files_, [&] {
      if (crypto_hash_sha256_update(&sha, reinterpret_cast<const unsigned char*>(chunk.data()),
                                    chunk.size()) != 0) {
        return Status(MakeError(ErrorCode::kInternal, "sha256 failed"));
      }
      return (*writer)->Append(chunk);
    });
  }
  if (failed.ok()) failed = co_await OnPool(files_, [&] { return (*writer)->Commit(); });
  m.size = (*writer)->size();
  // Dropped on the pool: discarding an uncommitted blob deletes its file.
  co_await OnPool(files_, [&] {
    writer.value().reset();
    return Unit{};
  });
  if (!failed.ok()) co_return ErrorResponse(failed.error());
  unsigned char digest[crypto_hash_sha256_BYTES];
  if (crypto_hash_sha256_final(&sha, digest) != 0) {
    co_await RemoveBlob(m.blob_key);
    co_return ErrorResponse(MakeError(ErrorCode::kInternal, "sha256 failed"));
  }
  m.sha256 = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  m.created_at = NowMs();

  auto inserted = co_await AwaitDone<Unit>([&](auto done) {
    boost::json::object payload{{"media_id", m.media_id},     {"uploader_id", m.uploader_id},
                                {"media_type", m.media_type}, {"size", m.size},
                                {"sha256", m.sha256},         {"created_at", m.created_at}};
    media_.InsertMedia(m, quota, [this, done, key = m.media_id, payload = std::move(payload)](
                                     Result<Unit> r) mutable {
      if (r.ok()) {  // on the completion thread, after the commit
        ctx_.bus.Publish(events::topic::kMedia,
                         events::MakeEvent(events::type::kMediaUploaded, key, std::move(payload)));
      }
      done(std::move(r));
    });
  });
  if (!inserted.ok()) {
    co_await RemoveBlob(m.blob_key);
    co_return ErrorResponse(inserted.error());
  }
  uploads_total_.fetch_add(1, std::memory_order_relaxed);
  upload_bytes_total_.fetch_add(m.size, std::memory_order_relaxed);
  co_return JsonResponse(201, ToJson(m));
}

boost::asio::awaitable<void> MediaService::RemoveBlob(const std::string& key) {
  Status st = co_await OnPool(files_, [&] { return blobs_.Remove(key); });
  if (!st.ok()) LogWarn("cannot remove an orphan blob", {{"key", key}, {"error", st.error().message}});
}

boost::asio::awaitable<Result<storage::Media>> MediaService::Authorize(HttpRequest& req,
                                                                       std::string_view variant,
                                                                       bool allow_link) {
  auto it = req.path_params.find("media_id");
  std::optional<std::string> id;
  if (it != req.path_params.end()) id = NormalizeUuid(it->second);
  if (!id) co_return NoSuchMedia();
  const std::string* sig = req.Query("sig");
  const std::string* expires = req.Query("expires");
  bool link = allow_link && (sig || expires);
  if (link) {
    Status st = signer_.Verify(*id, variant, expires ? *expires : std::string(),
                               sig ? *sig : std::string(), NowMs() / 1000);
    if (!st.ok()) co_return st.error();
  } else if (!req.principal) {
    co_return MakeError(ErrorCode::kUnauthenticated, "a bearer token or a signed link is required");
  }
  auto m = co_await OnPool(ctx_.blocking, [&] { return media_.GetMedia(*id); });
  if (!m.ok()) co_return m.error();
  if (link || m->uploader_id == req.principal->user_id) co_return std::move(m);
  auto can = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.message_store.CanSeeMedia(req.principal->user_id, *id);
  });
  if (!can.ok()) co_return can.error();
  if (!*can) co_return NoSuchMedia();  // the same answer as for media that does not exist
  co_return std::move(m);
}

MediaService::Awaitable MediaService::Info(HttpRequest& req) {
  auto m = co_await Authorize(req, "original", false);
  if (!m.ok()) co_return ErrorResponse(m.error());
  co_return JsonResponse(200, ToJson(*m));
}

MediaService::Awaitable MediaService::Download(HttpRequest& req) {
  std::string variant = "original";
  if (const std::string* v = req.Query("variant")) {
    if (*v != "original" && *v != "thumbnail") {
      co_return ErrorResponse(
          MakeError(ErrorCode::kInvalidArgument, "variant must be original or thumbnail"));
    }
    variant = *v;
  }
  auto m = co_await Authorize(req, variant, true);
  if (!m.ok()) co_return ErrorResponse(m.error());

  std::string key = m->blob_key, type = m->media_type, sha = m->sha256, filename = m->filename;
  uint64_t size = m->size;
  if (variant == "thumbnail") {
    if (m->thumbnail_state != ThumbnailState::kReady || !m->thumbnail) {
      co_return ErrorResponse(MakeError(ErrorCode::kNotFound, "no thumbnail for this media"));
    }
    key = m->thumbnail->blob_key;
    type = m->thumbnail->media_type;
    sha = m->thumbnail->sha256;
    size = m->thumbnail->size;
    filename.clear();
  }
  const std::string etag = Etag(sha);

  HttpResponse res;
  res.content_type = type;
  res.headers = {{"ETag", etag},
                 {"Accept-Ranges", "bytes"},
                 {"Cache-Control", "private, no-cache"},
                 {"Content-Security-Policy", "sandbox"}};
  if (std::string cd = ContentDisposition(type, filename); !cd.empty()) {
    res.headers.emplace_back("Content-Disposition", std::move(cd));
  }
  if (const std::string* inm = req.Header("if-none-match");
      inm && transport::EtagMatches(*inm, etag, true)) {
    res.status = 304;
    res.content_type.clear();
    co_return res;
  }
  std::optional<std::string_view> range;
  if (const std::string* r = req.Header("range")) {
    const std::string* if_range = req.Header("if-range");  // a stale validator: send it whole
    if (!if_range || transport::EtagMatches(*if_range, etag, false)) range = *r;
  }
  auto decision = transport::ParseRange(range, size);
  uint64_t first = 0, length = size;
  switch (decision.kind) {
    case transport::RangeDecision::Kind::kUnsatisfiable: {
      HttpResponse e = ErrorResponse(MakeError(ErrorCode::kInvalidArgument,
                                               "range not satisfiable (single byte ranges only)"));
      e.status = 416;
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      e.headers.emplace_back("Accept-Ranges", "bytes");
      co_return e;
    }
    case transport::RangeDecision::Kind::kPartial:
      first = decision.range.first;
      length = decision.range.length();
      res.status = 206;
      res.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                    std::to_string(decision.range.last) + "/" +
                                                    std::to_string(size));
      break;
    case transport::RangeDecision::Kind::kWhole:
      break;
  }

  auto reader = co_await OnPool(files_, [&] { return blobs_.Open(key); });
  if (!reader.ok() || (*reader)->size() != size) {
    LogError("media blob missing or damaged",
             {{"media_id", m->media_id}, {"key", key},
              {"error", reader.ok() ? std::string("size differs") : reader.error().message}});
    co_return ErrorResponse(MakeError(ErrorCode::kUnavailable, "media is unavailable"));
  }
  res.body_source = std::make_shared<BlobBody>(files_, std::move(*reader), first, length);
  res.body_size = length;
  co_return res;
}

}  // namespace parley::services
