// The plaintext of Parley's end-to-end encrypted messages as this SDK writes and reads them:
//   {"v":1,"text":"hello"}
//   {"v":1,"text":"photo.png","media":{"media_id":"…","key":"<base64, 32 bytes>",
//    "sha256":"<hex, of the encrypted blob>","size":123,"media_type":"image/png",
//    "file_name":"photo.png"}}
// Anything else (not JSON, or JSON of another shape) is read as plain text, so a client that
// sends bare text interoperates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::sdk {

struct MediaDescriptor {
  std::string media_id;
  std::string key;         // raw 32 bytes
  std::string sha256_hex;  // of the encrypted blob, lowercase hex
  uint64_t size = 0;       // plaintext bytes
  std::string media_type, file_name;
};

struct Payload {
  std::string text;
  std::optional<MediaDescriptor> media;
};

std::string EncodePayload(const Payload& p);
Payload DecodePayload(std::string_view plaintext);

// The descriptor alone (kept in LocalMessage::media_json), and back (nullopt if malformed).
std::string MediaDescriptorJson(const MediaDescriptor& m);
std::optional<MediaDescriptor> ParseMediaDescriptor(std::string_view json);

// A media type from a file name's extension ("application/octet-stream" if unknown).
std::string GuessMediaType(const std::string& file_name);
// The message content_type for a media type: image, video, audio or document.
std::string ContentTypeForMedia(const std::string& media_type);

}  // namespace parley::sdk
