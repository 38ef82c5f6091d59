// MediaProcessor: the asynchronous worker behind media-events. For every MEDIA_UPLOADED of an
// image the server can thumbnail (image/jpeg, image/png, image/webp, image/gif; never an
// encrypted application/octet-stream blob) it makes a thumbnail (thumbnailer.h) on its own
// thread, stores it as blob "<media_id>.thumb", records the outcome in the MediaStore — ready,
// or failed with the reason; a failure never stops the worker — and publishes MEDIA_PROCESSED.
//
// The event handler only queues (at most kMaxQueue; beyond, the media is marked failed "busy").
// Work in the store's "pending" state survives restarts: Start queues it again.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "services/context.h"
#include "services/media/thumbnailer.h"
#include "storage/blob_store.h"
#include "storage/media_store.h"

namespace parley::services {

// Whether uploads of this media type get a thumbnail.
bool IsThumbnailable(std::string_view media_type);

class MediaProcessor {
 public:
  static constexpr size_t kMaxQueue = 10000;

  MediaProcessor(Context& ctx, storage::MediaStore& media, storage::BlobStore& blobs,
                 ThumbnailLimits limits = {});
  ~MediaProcessor();

  // Starts libvips and the worker thread, subscribes to media-events and queues what an earlier
  // run left pending. Call once, before serving. kUnavailable if libvips cannot start.
  Status Start();
  // Stops taking work, finishes the image in progress and joins the thread. Queued media stay
  // pending in the store for the next Start.
  void Stop();

 private:
  void Enqueue(std::string media_id);
  void Loop();
  void Process(const std::string& media_id);
  // Stores the outcome and waits for the commit; MEDIA_PROCESSED follows it.
  void Record(const storage::Media& m, storage::ThumbnailState state,
              std::optional<storage::Thumbnail> thumb, std::string error);

  Context& ctx_;
  storage::MediaStore& media_;
  storage::BlobStore& blobs_;
  const ThumbnailLimits limits_;
  std::atomic<uint64_t>& made_total_;
  std::atomic<uint64_t>& failed_total_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  bool started_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace parley::services
