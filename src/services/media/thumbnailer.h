// Thumbnails of untrusted images with libvips, bounded against decompression bombs:
//   - the format comes from the leading bytes (JPEG, PNG, WebP, GIF only), never from the
//     uploader's claimed type, and only that format's loader runs (libvips' "untrusted"
//     loaders, e.g. ImageMagick, are blocked process-wide);
//   - the input size and the pixel count (from the header, before any pixel is decoded) are
//     capped; truncated or corrupt data fails instead of decoding partially; animations use
//     their first frame; JPEGs shrink while decoding;
//   - the output fits in max_side x max_side, never enlarged: JPEG, or PNG if it has alpha.
// Blocking and CPU-bound: call from a worker thread, never an I/O thread. Thread-safe after
// InitImaging.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::services {

struct ThumbnailLimits {
  uint64_t max_input_bytes = 32u << 20;
  uint64_t max_input_pixels = 40'000'000;  // width x height of the (first) frame
  int max_side = 320;
};

struct ThumbnailImage {
  std::string bytes;
  std::string media_type;  // image/jpeg or image/png
  int width = 0;
  int height = 0;
};

// Starts libvips once per process (single-threaded pipelines, no operation cache, untrusted
// loaders blocked). kUnavailable if it cannot start.
Status InitImaging();
// Frees libvips' per-thread state; call on a thread that made thumbnails before it exits.
void EndImagingThread();

// The image type that `head` (the first bytes of a file) starts with: image/jpeg, image/png,
// image/webp or image/gif; nullopt for anything else.
std::optional<std::string_view> SniffImageType(std::string_view head);

// kInvalidArgument: not one of the four formats, corrupt, or past a limit (the message says
// which). kUnavailable: libvips is not initialised.
Result<ThumbnailImage> MakeThumbnail(std::string_view image, const ThumbnailLimits& limits);

}  // namespace parley::services
