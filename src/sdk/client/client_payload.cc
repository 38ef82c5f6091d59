#include "sdk/client/client_payload.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>

#include "sdk/api/api_types.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk {

namespace json = boost::json;

namespace {
json::object DescriptorObject(const MediaDescriptor& m) {
  return json::object{{"media_id", m.media_id},
                      {"key", crypto::Base64Encode(m.key)},
                      {"sha256", m.sha256_hex},
                      {"size", m.size},
                      {"media_type", m.media_type},
                      {"file_name", m.file_name}};
}

std::optional<MediaDescriptor> DescriptorFrom(const json::object& o) {
  MediaDescriptor m;
  m.media_id = JStr(o, "media_id");
  auto key = crypto::Base64Decode(JStr(o, "key"));
  if (m.media_id.empty() || !key || key->size() != 32) return std::nullopt;
  m.key = *key;
  m.sha256_hex = JStr(o, "sha256");
  int64_t size = JInt(o, "size");
  if (size < 0) return std::nullopt;
  m.size = static_cast<uint64_t>(size);
  m.media_type = JStr(o, "media_type");
  m.file_name = JStr(o, "file_name");
  return m;
}

std::optional<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}
}  // namespace

std::string EncodePayload(const Payload& p) {
  json::object o{{"v", 1}, {"text", p.text}};
  if (p.media) o["media"] = DescriptorObject(*p.media);
  return json::serialize(o);
}

Payload DecodePayload(std::string_view plaintext) {
  Payload p;
  auto o = ParseObject(plaintext);
  if (!o || JInt(*o, "v") != 1 || !o->contains("text")) {
    p.text = std::string(plaintext);
    return p;
  }
  p.text = JStr(*o, "text");
  if (const auto* m = JObj(*o, "media")) p.media = DescriptorFrom(*m);
  return p;
}

std::string MediaDescriptorJson(const MediaDescriptor& m) {
  return json::serialize(DescriptorObject(m));
}

std::optional<MediaDescriptor> ParseMediaDescriptor(std::string_view text) {
  auto o = ParseObject(text);
  if (!o) return std::nullopt;
  return DescriptorFrom(*o);
}

std::string GuessMediaType(const std::string& file_name) {
  static const std::map<std::string, std::string> kTypes = {
      {"png", "image/png"},        {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},        {"webp", "image/webp"},      {"svg", "image/svg+xml"},
      {"mp4", "video/mp4"},        {"webm", "video/webm"},      {"mov", "video/quicktime"},
      {"mp3", "audio/mpeg"},       {"ogg", "audio/ogg"},        {"wav", "audio/wav"},
      {"m4a", "audio/mp4"},        {"pdf", "application/pdf"},  {"txt", "text/plain"},
      {"md", "text/markdown"},     {"csv", "text/csv"},         {"zip", "application/zip"},
      {"json", "application/json"}};
  auto dot = file_name.rfind('.');
  if (dot == std::string::npos) return "application/octet-stream";
  std::string ext = file_name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::string ContentTypeForMedia(const std::string& media_type) {
  for (const char* kind : {"image", "video", "audio"})
    if (media_type.rfind(std::string(kind) + "/", 0) == 0) return kind;
  return "document";
}

}  // namespace parley::sdk
