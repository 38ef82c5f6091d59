#include "services/media/media_processor.h"

#include <pthread.h>
#include <signal.h>

#include <future>

#include "common/encoding.h"
#include "common/log.h"
#include "events/event.h"

namespace parley::services {

using storage::ThumbnailState;

bool IsThumbnailable(std::string_view t) {
  return t == "image/jpeg" || t == "image/png" || t == "image/webp" || t == "image/gif";
}

MediaProcessor::MediaProcessor(Context& ctx, storage::MediaStore& media, storage::BlobStore& blobs,
                               ThumbnailLimits limits)
    : ctx_(ctx),
      media_(media),
      blobs_(blobs),
      limits_(limits),
      made_total_(ctx.metrics.Counter("parley_media_thumbnails_total", "Thumbnails made")),
      failed_total_(ctx.metrics.Counter("parley_media_thumbnail_failures_total",
                                        "Images that could not be thumbnailed")) {}

MediaProcessor::~MediaProcessor() { Stop(); }

Status MediaProcessor::Start() {
  PARLEY_TRY(InitImaging());
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  ctx_.bus.Subscribe(events::topic::kMedia, [this](std::string_view, const events::EventPtr& e) {
    if (e->type != events::type::kMediaUploaded) return;
    auto* type = e->payload.if_contains("media_type");
    if (type && type->is_string() && IsThumbnailable(type->as_string())) Enqueue(e->key);
  }, events::Delivery::kOneNode);
  thread_ = std::thread([this] { Loop(); });
  auto pending = media_.PendingThumbnails(static_cast<int>(kMaxQueue));
  if (!pending.ok()) {
    LogWarn("cannot list pending thumbnails", {{"error", pending.error().message}});
  } else {
    for (auto& id : *pending) Enqueue(std::move(id));
  }
  return OkStatus();
}

void MediaProcessor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MediaProcessor::Enqueue(std::string media_id) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) return;
    if (queue_.size() < kMaxQueue) {
      queue_.push_back(std::move(media_id));
      cv_.notify_one();
      return;
    }
  }
  // Full: give up on this one now rather than let the queue grow without bound. Recorded from
  // the event handler without waiting (it must not block).
  LogWarn("thumbnail queue full", {{"media_id", media_id}});
  failed_total_.fetch_add(1, std::memory_order_relaxed);
  media_.SetThumbnail(media_id, ThumbnailState::kFailed, std::nullopt, "busy", [](Result<Unit>) {});
}

void MediaProcessor::Loop() {
  // Signals are for the main thread's sigwait; libvips' threads inherit this mask.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      id = std::move(queue_.front());
      queue_.pop_front();
    }
    Process(id);
  }
  EndImagingThread();
}

void MediaProcessor::Process(const std::string& media_id) {
  auto m = media_.GetMedia(media_id);
  if (!m.ok()) {
    LogWarn("thumbnail: cannot read media", {{"media_id", media_id}, {"error", m.error().message}});
    return;
  }
  if (m->thumbnail_state != ThumbnailState::kPending) return;  // done already (a repeat)
  if (!IsThumbnailable(m->media_type)) {
    Record(*m, ThumbnailState::kNone, std::nullopt, "");
    return;
  }
  if (m->size > limits_.max_input_bytes) {
    Record(*m, ThumbnailState::kFailed, std::nullopt, "image file too large to thumbnail");
    return;
  }
  auto reader = blobs_.Open(m->blob_key);
  if (!reader.ok()) {
    Record(*m, ThumbnailState::kFailed, std::nullopt, "cannot read the upload");
    return;
  }
  std::string bytes(static_cast<size_t>(std::min<uint64_t>((*reader)->size(), limits_.max_input_bytes)),
                    '\0');
  auto n = (*reader)->ReadAt(0, bytes);
  if (!n.ok() || *n != bytes.size()) {
    Record(*m, ThumbnailState::kFailed, std::nullopt, "cannot read the upload");
    return;
  }
  auto image = MakeThumbnail(bytes, limits_);
  if (!image.ok()) {
    Record(*m, ThumbnailState::kFailed, std::nullopt, image.error().message);
    return;
  }
  storage::Thumbnail t;
  t.blob_key = m->media_id + ".thumb";
  t.media_type = image->media_type;
  t.size = image->bytes.size();
  t.sha256 = HexEncode(Sha256(image->bytes));
  t.width = image->width;
  t.height = image->height;
  auto writer = blobs_.Create(t.blob_key);
  Status st = writer.ok() ? (*writer)->Append(image->bytes) : Status(writer.error());
  if (st.ok()) st = (*writer)->Commit();
  if (!st.ok()) {
    // A storage failure, not the image's fault: leave it pending for the next start.
    LogError("thumbnail: cannot store", {{"media_id", media_id}, {"error", st.error().message}});
    return;
  }
  Record(*m, ThumbnailState::kReady, std::move(t), "");
}

void MediaProcessor::Record(const storage::Media& m, ThumbnailState state,
                            std::optional<storage::Thumbnail> thumb, std::string error) {
  if (state == ThumbnailState::kReady) made_total_.fetch_add(1, std::memory_order_relaxed);
  if (state == ThumbnailState::kFailed) {
    failed_total_.fetch_add(1, std::memory_order_relaxed);
    LogInfo("thumbnail failed", {{"media_id", m.media_id}, {"reason", error}});
  }
  boost::json::object payload{{"media_id", m.media_id},
                              {"uploader_id", m.uploader_id},
                              {"media_type", m.media_type},
                              {"thumbnail", ThumbnailStateName(state)}};
  if (thumb) {
    payload["thumbnail_media_type"] = thumb->media_type;
    payload["thumbnail_width"] = thumb->width;
    payload["thumbnail_height"] = thumb->height;
  }
  if (!error.empty()) payload["error"] = error;
  std::promise<void> committed;
  media_.SetThumbnail(m.media_id, state, std::move(thumb), std::move(error),
                      [this, &committed, key = m.media_id, payload = std::move(payload)](
                          Result<Unit> r) mutable {
                        if (r.ok()) {
                          ctx_.bus.Publish(events::topic::kMedia,
                                           events::MakeEvent(events::type::kMediaProcessed, key,
                                                             std::move(payload)));
                        } else {
                          LogError("thumbnail: cannot record",
                                   {{"media_id", key}, {"error", r.error().message}});
                        }
                        committed.set_value();
                      });
  committed.get_future().wait();
}

}  // namespace parley::services
