// Byte encodings: base64url without padding (JWT, tokens), standard base64 and hex.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley {

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string HexEncode(std::string_view bytes);
// SHA-256 of `bytes`, raw 32 bytes.
std::string Sha256(std::string_view bytes);
// `n` random bytes from the OS CSPRNG.
std::string RandomBytes(size_t n);

}  // namespace parley
