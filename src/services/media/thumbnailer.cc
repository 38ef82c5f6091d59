#include "services/media/thumbnailer.h"

#include <vips/vips.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace parley::services {
namespace {

std::atomic<bool> g_ready{false};

// Owns one reference to a VipsImage.
class Image {
 public:
  Image() = default;
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  ~Image() { Reset(); }
  VipsImage** out() {
    Reset();
    return &p_;
  }
  VipsImage* get() const { return p_; }
  void Swap(Image& other) { std::swap(p_, other.p_); }
  void Reset() {
    if (p_) g_object_unref(p_);
    p_ = nullptr;
  }

 private:
  VipsImage* p_ = nullptr;
};

Error VipsFailure(std::string_view what) {
  std::string detail = vips_error_buffer();
  vips_error_clear();
  if (detail.size() > 200) detail.resize(200);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  return MakeError(ErrorCode::kInvalidArgument, std::string(what) + ": " + detail);
}

// Opens the image header with the loader of `type` (pixels are decoded later, on demand).
// `shrink` > 1 asks the JPEG decoder to scale down by that factor while decoding.
int Load(std::string_view type, std::string_view bytes, int shrink, VipsImage** out) {
  void* buf = const_cast<char*>(bytes.data());  // libvips only reads it
  size_t len = bytes.size();
  if (type == "image/jpeg") {
    return vips_jpegload_buffer(buf, len, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                VIPS_FAIL_ON_ERROR, "shrink", shrink, nullptr);
  }
  if (type == "image/png") {
    return vips_pngload_buffer(buf, len, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                               VIPS_FAIL_ON_ERROR, nullptr);
  }
  if (type == "image/webp") {
    return vips_webpload_buffer(buf, len, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                VIPS_FAIL_ON_ERROR, nullptr);
  }
  return vips_gifload_buffer(buf, len, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                             VIPS_FAIL_ON_ERROR, nullptr);
}

}  // namespace

Status InitImaging() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    if (vips_init("parleyd") != 0) {
      vips_error_clear();
      return;
    }
    vips_concurrency_set(1);     // one pipeline thread per job: the worker is the bound
    vips_cache_set_max(0);       // every upload is new: caching operations only costs memory
    vips_cache_set_max_mem(0);
    vips_block_untrusted_set(TRUE);
    ok = true;
    g_ready.store(true);
  });
  if (!ok) return MakeError(ErrorCode::kUnavailable, "libvips failed to start");
  return OkStatus();
}

void EndImagingThread() {
  if (g_ready.load()) vips_thread_shutdown();
}

std::optional<std::string_view> SniffImageType(std::string_view h) {
  auto starts = [&](std::string_view magic, size_t at = 0) {
    return h.size() >= at + magic.size() && h.substr(at, magic.size()) == magic;
  };
  if (starts("\xFF\xD8\xFF")) return "image/jpeg";
  if (starts("\x89PNG\r\n\x1A\n")) return "image/png";
  if (starts("GIF87a") || starts("GIF89a")) return "image/gif";
  if (starts("RIFF") && starts("WEBP", 8)) return "image/webp";
  return std::nullopt;
}

Result<ThumbnailImage> MakeThumbnail(std::string_view bytes, const ThumbnailLimits& limits) {
  if (!g_ready.load()) return MakeError(ErrorCode::kUnavailable, "libvips is not initialised");
  if (bytes.size() > limits.max_input_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "image file too large to thumbnail");
  }
  auto type = SniffImageType(bytes);
  if (!type) return MakeError(ErrorCode::kInvalidArgument, "not a JPEG, PNG, WebP or GIF image");

  // The header only: dimensions are known before any pixel is decoded.
  Image in;
  if (Load(*type, bytes, 1, in.out()) != 0) return VipsFailure("cannot read the image");
  uint64_t w = static_cast<uint64_t>(vips_image_get_width(in.get()));
  uint64_t h = static_cast<uint64_t>(vips_image_get_height(in.get()));
  if (w == 0 || h == 0) return MakeError(ErrorCode::kInvalidArgument, "image has no pixels");
  if (w * h > limits.max_input_pixels) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "image has too many pixels (" + std::to_string(w) + "x" + std::to_string(h) +
                         ")");
  }
  if (*type == "image/jpeg") {
    int shrink = 1;
    while (shrink < 8 && std::max(w, h) / static_cast<uint64_t>(shrink * 2) >=
                             static_cast<uint64_t>(limits.max_side)) {
      shrink *= 2;
    }
    if (shrink > 1 && Load(*type, bytes, shrink, in.out()) != 0) {
      return VipsFailure("cannot read the image");
    }
  }

  Image thumb;
  if (vips_thumbnail_image(in.get(), thumb.out(), limits.max_side, "height", limits.max_side,
                           "size", VIPS_SIZE_DOWN, nullptr) != 0) {
    return VipsFailure("cannot scale the image");
  }
  // 8-bit sRGB (or grey) for the encoders: CMYK, 16-bit and the like are converted.
  VipsInterpretation interp = vips_image_get_interpretation(thumb.get());
  if ((interp != VIPS_INTERPRETATION_sRGB && interp != VIPS_INTERPRETATION_B_W) ||
      vips_image_get_format(thumb.get()) != VIPS_FORMAT_UCHAR) {
    Image srgb;
    if (vips_colourspace(thumb.get(), srgb.out(), VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
      return VipsFailure("cannot convert the image to sRGB");
    }
    thumb.Swap(srgb);
  }

  ThumbnailImage out;
  out.width = vips_image_get_width(thumb.get());
  out.height = vips_image_get_height(thumb.get());
  void* buf = nullptr;
  size_t len = 0;
  int rc = 0;
  if (vips_image_hasalpha(thumb.get())) {
    out.media_type = "image/png";
    rc = vips_pngsave_buffer(thumb.get(), &buf, &len, "compression", 6, "strip", TRUE, nullptr);
  } else {
    out.media_type = "image/jpeg";
    rc = vips_jpegsave_buffer(thumb.get(), &buf, &len, "Q", 80, "strip", TRUE, nullptr);
  }
  if (rc != 0) return VipsFailure("cannot decode or encode the image");
  out.bytes.assign(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

}  // namespace parley::services
