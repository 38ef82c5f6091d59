// Media encryption: a random 32-byte key per file; the blob is a crypto_secretstream_xchacha20poly1305
// stream: its 24-byte header, then one chunk per 64 KiB of plaintext (the last, possibly empty,
// tagged TAG_FINAL; every other TAG_MESSAGE), each 17 bytes longer than its plaintext. The message
// that names the upload carries a MediaInfo: key, SHA-256 of the blob, plaintext size, media type,
// file name. Streams in, streams out: memory use is one chunk whatever the file size.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "common/result.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {

inline constexpr size_t kMediaChunkBytes = 64 * 1024;
inline constexpr size_t kMaxMediaNameBytes = 1024;

struct MediaInfo {
  std::string key;        // 32 bytes
  std::string sha256;     // 32 bytes, of the encrypted blob
  uint64_t size = 0;      // plaintext bytes
  std::string media_type; // e.g. "image/png"; ≤ 255 bytes
  std::string file_name;  // ≤ 1024 bytes
};
// 0x01 || key (32) || sha256 (32) || u64 size || u16 len || media_type || u16 len || file_name
std::string EncodeMediaInfo(const MediaInfo& info);
Result<MediaInfo> DecodeMediaInfo(std::string_view bytes);

struct MediaEncrypted {
  std::string key;            // the fresh file key (secret)
  std::string sha256;         // of the blob written to `out`
  uint64_t plaintext_size = 0;
  uint64_t ciphertext_size = 0;
};
// Reads `in` to its end, writes the blob to `out`. kUnavailable when a stream fails.
Result<MediaEncrypted> EncryptMedia(std::istream& in, std::ostream& out, const RandomFn& random);
// Same with a given key (test vectors).
Result<MediaEncrypted> EncryptMediaWithKey(std::istream& in, std::ostream& out,
                                           std::string_view key);

// Decrypts a blob from `in` to `out`. Errors: kForbidden (a chunk fails authentication, the
// blob's SHA-256 or size differs from what the message said), kInvalidArgument (truncated: no
// final chunk, or data after it). Plaintext is written as chunks verify, so on an error the
// caller must discard what was written.
Result<Unit> DecryptMedia(std::istream& in, std::ostream& out, std::string_view key,
                          std::optional<std::string> expected_sha256 = std::nullopt,
                          std::optional<uint64_t> expected_size = std::nullopt);

}  // namespace parley::sdk::crypto
