#include "services/media/media_headers.h"

#include <cstdint>

#include "common/encoding.h"

namespace parley::services {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!IsTokenChar(c)) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not a valid one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

Result<std::string> ParseMediaType(const std::string* content_type) {
  if (!content_type || Trim(*content_type).empty()) return std::string("application/octet-stream");
  std::string_view v = Trim(std::string_view(*content_type).substr(0, content_type->find(';')));
  size_t slash = v.find('/');
  if (v.size() > 255 || slash == std::string_view::npos || !IsToken(v.substr(0, slash)) ||
      !IsToken(v.substr(slash + 1))) {
    return MakeError(ErrorCode::kUnsupportedMediaType,
                     "Content-Type must be a media type, such as image/png or "
                     "application/octet-stream");
  }
  std::string type(v);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type.rfind("multipart/", 0) == 0) {
    return MakeError(ErrorCode::kUnsupportedMediaType,
                     "send the file itself as the request body, not a multipart form");
  }
  return type;
}

Result<std::string> SanitizeFilename(const std::string* x_filename) {
  if (!x_filename) return std::string();
  if (x_filename->size() > 1024) {
    return MakeError(ErrorCode::kInvalidArgument, "X-Filename is longer than 1024 bytes");
  }
  std::string name = PercentDecode(*x_filename);
  if (!IsUtf8(name)) return MakeError(ErrorCode::kInvalidArgument, "X-Filename must be UTF-8");
  size_t cut = name.find_last_of("/\\");
  if (cut != std::string::npos) name.erase(0, cut + 1);
  std::string clean;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) continue;
    clean.push_back(c);
  }
  std::string_view t = Trim(clean);
  if (t == "." || t == "..") return std::string();
  std::string out(t);
  if (out.size() > 255) {
    size_t end = 0;
    for (size_t i = 0; i < out.size();) {
      size_t n = Utf8SequenceLength(out, i);
      if (i + n > 255) break;
      i += n;
      end = i;
    }
    out.resize(end);
  }
  return out;
}

bool IsInlineType(std::string_view t) {
  if (t == "image/svg+xml") return false;
  return t.rfind("image/", 0) == 0 || t.rfind("video/", 0) == 0 || t.rfind("audio/", 0) == 0;
}

std::string ContentDisposition(std::string_view media_type, std::string_view filename) {
  bool inline_type = IsInlineType(media_type);
  std::string out = inline_type ? "inline" : "attachment";
  if (filename.empty()) return inline_type ? std::string() : out;
  std::string ascii, encoded;
  for (char c : filename) {
    unsigned char u = static_cast<unsigned char>(c);
    ascii.push_back(u >= 0x20 && u < 0x7F && c != '"' && c != '\\' && c != '%' ? c : '_');
    bool attr_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
    if (attr_char) {
      encoded.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded.push_back('%');
      encoded.push_back(kHex[u >> 4]);
      encoded.push_back(kHex[u & 0xF]);
    }
  }
  out += "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
  return out;
}

}  // namespace parley::services
