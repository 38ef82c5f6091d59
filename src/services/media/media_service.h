// Media service: uploads (streamed to the BlobStore while hashing, metadata in the MediaStore,
// then MEDIA_UPLOADED on media-events), downloads (bearer token or signed link; Range, ETag,
// nosniff, attachment for anything a browser should not render) and media metadata.
//
// Who may download with a token: the uploader, and members of a conversation with a message
// that names the media (MessageStore::CanSeeMedia). Anyone else gets the same 404 as for media
// that does not exist. A signed link (the `url` of an upload) works without a token until it
// expires. File I/O runs on the service's own small pool, never on an I/O thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "services/context.h"
#include "services/media/url_signer.h"
#include "storage/blob_store.h"
#include "storage/media_store.h"
#include "transport/router.h"

namespace parley::services {

class MediaService {
 public:
  MediaService(Context& ctx, storage::MediaStore& media, storage::BlobStore& blobs,
               UrlSigner signer);
  ~MediaService();

  // POST /v1/upload (streaming), GET /v1/download/{media_id}, GET /v1/media/{media_id}.
  void Register(transport::Router& router);
  // Subscribes to message-events to record, per media, the first message of its uploader that
  // names it (the seed's media.message_id). Call once, before serving.
  void Start();
  // Waits for file I/O in flight. Call after the HTTP server has stopped.
  void Stop();

 private:
  using Awaitable = boost::asio::awaitable<transport::HttpResponse>;
  Awaitable Upload(transport::HttpRequest& req);
  Awaitable Download(transport::HttpRequest& req);
  Awaitable Info(transport::HttpRequest& req);
  // The media a download or info request may see: checks the signed link (`allow_link`) or the
  // caller's access. kNotFound also when the caller may not see it.
  boost::asio::awaitable<Result<storage::Media>> Authorize(transport::HttpRequest& req,
                                                           std::string_view variant,
                                                           bool allow_link);
  // Deletes a blob whose metadata could not be stored (logged if that fails too).
  boost::asio::awaitable<void> RemoveBlob(const std::string& key);
  boost::json::object ToJson(const storage::Media& m) const;

  Context& ctx_;
  storage::MediaStore& media_;
  storage::BlobStore& blobs_;
  const UrlSigner signer_;
  boost::asio::thread_pool files_{2};  // blob reads and writes
  std::atomic<uint64_t>& uploads_total_;
  std::atomic<uint64_t>& upload_bytes_total_;
};

}  // namespace parley::services
