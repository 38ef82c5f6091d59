#include "sdk/crypto/media.h"

#include <sodium.h>

#include <vector>

#include "sdk/crypto/wire.h"

namespace parley::sdk::crypto {
namespace {

constexpr size_t kChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr uint8_t kMediaInfoVersion = 1;

// Reads up to n bytes (fewer only at the end of the stream).
Result<size_t> ReadUpTo(std::istream& in, std::vector<unsigned char>& buf, size_t n) {
  buf.resize(n);
  size_t got = 0;
  while (got < n && in.good()) {
    in.read(reinterpret_cast<char*>(buf.data() + got), static_cast<std::streamsize>(n - got));
    got += static_cast<size_t>(in.gcount());
  }
  if (in.bad()) return MakeError(ErrorCode::kUnavailable, "media: read failed");
  buf.resize(got);
  return got;
}

Result<Unit> Write(std::ostream& out, const unsigned char* p, size_t n) {
  out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
  if (!out) return MakeError(ErrorCode::kUnavailable, "media: write failed");
  return Unit{};
}

}  // namespace

std::string EncodeMediaInfo(const MediaInfo& info) {
  ByteWriter w;
  w.U8(kMediaInfoVersion);
  w.Raw(info.key);
  w.Raw(info.sha256);
  w.U64(info.size);
  w.Str16(info.media_type);
  w.Str16(info.file_name);
  return w.Take();
}

Result<MediaInfo> DecodeMediaInfo(std::string_view bytes) {
  ByteReader r(bytes);
  if (r.U8() != kMediaInfoVersion) return MakeError(ErrorCode::kInvalidArgument, "media info: version");
  MediaInfo m;
  m.key = r.Raw(32);
  m.sha256 = r.Raw(32);
  m.size = r.U64();
  m.media_type = r.Str16(255);
  m.file_name = r.Str16(kMaxMediaNameBytes);
  if (!r.AtEnd()) return MakeError(ErrorCode::kInvalidArgument, "media info: malformed");
  return m;
}

Result<MediaEncrypted> EncryptMedia(std::istream& in, std::ostream& out, const RandomFn& random) {
  return EncryptMediaWithKey(in, out, random(crypto_secretstream_xchacha20poly1305_KEYBYTES));
}

Result<MediaEncrypted> EncryptMediaWithKey(std::istream& in, std::ostream& out,
                                           std::string_view key) {
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return MakeError(ErrorCode::kInvalidArgument, "media: bad key length");
  }
  MediaEncrypted result;
  result.key = std::string(key);
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_hash_sha256_state hash;
  crypto_hash_sha256_init(&hash);
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (crypto_secretstream_xchacha20poly1305_init_push(
          &st, header, reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return MakeError(ErrorCode::kInternal, "media: init_push failed");
  }
  PARLEY_TRY(Write(out, header, sizeof header));
  crypto_hash_sha256_update(&hash, header, sizeof header);
  result.ciphertext_size = sizeof header;

  std::vector<unsigned char> cur, next, ct(kMediaChunkBytes + kChunkOverhead);
  auto first = ReadUpTo(in, cur, kMediaChunkBytes);
  if (!first.ok()) return first.error();
  for (;;) {
    bool last = cur.size() < kMediaChunkBytes;
    if (!last) {
      auto got = ReadUpTo(in, next, kMediaChunkBytes);
      if (!got.ok()) return got.error();
      last = next.empty();
    }
    unsigned long long ct_len = 0;
    unsigned char tag = last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                             : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    if (crypto_secretstream_xchacha20poly1305_push(&st, ct.data(), &ct_len, cur.data(), cur.size(),
                                                   nullptr, 0, tag) != 0) {
      return MakeError(ErrorCode::kInternal, "media: push failed");
    }
    PARLEY_TRY(Write(out, ct.data(), ct_len));
    crypto_hash_sha256_update(&hash, ct.data(), ct_len);
    result.ciphertext_size += ct_len;
    result.plaintext_size += cur.size();
    if (last) break;
    std::swap(cur, next);
  }
  sodium_memzero(&st, sizeof st);
  result.sha256.resize(crypto_hash_sha256_BYTES);
  crypto_hash_sha256_final(&hash, reinterpret_cast<unsigned char*>(result.sha256.data()));
  return result;
}

Result<Unit> DecryptMedia(std::istream& in, std::ostream& out, std::string_view key,
                          std::optional<std::string> expected_sha256,
                          std::optional<uint64_t> expected_size) {
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return MakeError(ErrorCode::kInvalidArgument, "media: bad key length");
  }
  crypto_hash_sha256_state hash;
  crypto_hash_sha256_init(&hash);
  std::vector<unsigned char> buf;
  auto got = ReadUpTo(in, buf, crypto_secretstream_xchacha20poly1305_HEADERBYTES);
  if (!got.ok()) return got.error();
  if (buf.size() != crypto_secretstream_xchacha20poly1305_HEADERBYTES) {
    return MakeError(ErrorCode::kInvalidArgument, "media: truncated header");
  }
  crypto_hash_sha256_update(&hash, buf.data(), buf.size());
  crypto_secretstream_xchacha20poly1305_state st;
  if (crypto_secretstream_xchacha20poly1305_init_pull(
          &st, buf.data(), reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "media: bad header");
  }
  std::vector<unsigned char> pt(kMediaChunkBytes);
  uint64_t size = 0;
  for (;;) {
    auto n = ReadUpTo(in, buf, kMediaChunkBytes + kChunkOverhead);
    if (!n.ok()) return n.error();
    if (buf.empty()) return MakeError(ErrorCode::kInvalidArgument, "media: truncated stream");
    if (buf.size() < kChunkOverhead) {
      return MakeError(ErrorCode::kInvalidArgument, "media: truncated chunk");
    }
    crypto_hash_sha256_update(&hash, buf.data(), buf.size());
    unsigned long long pt_len = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pt.data(), &pt_len, &tag, buf.data(),
                                                   buf.size(), nullptr, 0) != 0) {
      sodium_memzero(&st, sizeof st);
      return MakeError(ErrorCode::kForbidden, "media: chunk failed authentication");
    }
    PARLEY_TRY(Write(out, pt.data(), pt_len));
    size += pt_len;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) break;
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE ||
        buf.size() != kMediaChunkBytes + kChunkOverhead) {
      // Only the final chunk may be short; other tags are not part of the format.
      return MakeError(ErrorCode::kInvalidArgument, "media: malformed stream");
    }
  }
  sodium_memzero(&st, sizeof st);
  sodium_memzero(pt.data(), pt.size());
  if (in.peek() != std::char_traits<char>::eof()) {
    return MakeError(ErrorCode::kInvalidArgument, "media: data after the final chunk");
  }
  std::string digest(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256_final(&hash, reinterpret_cast<unsigned char*>(digest.data()));
  if (expected_sha256 && sodium_memcmp(digest.data(), expected_sha256->data(),
                                       std::min(digest.size(), expected_sha256->size())) != 0) {
    return MakeError(ErrorCode::kForbidden, "media: blob hash mismatch");
  }
  if (expected_sha256 && expected_sha256->size() != digest.size()) {
    return MakeError(ErrorCode::kForbidden, "media: blob hash mismatch");
  }
  if (expected_size && *expected_size != size) {
    return MakeError(ErrorCode::kForbidden, "media: size mismatch");
  }
  return Unit{};
}

}  // namespace parley::sdk::crypto
