// Byte encodings: base64url without padding (JWT, tokens), standard base64, hex and RFC 3986
// percent-encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley {

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);
// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsUtf8(std::string_view s);
std::string HexEncode(std::string_view bytes);
// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, every other byte
// becomes %XX (uppercase hex); '/' stays too when `keep_slash` (a path of segments).
std::string PercentEncode(std::string_view s, bool keep_slash = false);
// SHA-256 of `bytes`, raw 32 bytes.
std::string Sha256(std::string_view bytes);
// `n` random bytes from the OS CSPRNG.
std::string RandomBytes(size_t n);

}  // namespace parley
