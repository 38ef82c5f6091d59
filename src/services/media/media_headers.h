// The HTTP header values of uploads and downloads: the media type a client declares, the file
// name it suggests, and how a download is presented (inline or attachment). Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::services {

// The media type of an upload from its Content-Type (nullptr: none sent): lowercase
// "type/subtype" without parameters; application/octet-stream when absent or empty.
// kUnsupportedMediaType if it is not a media type (RFC 9110 tokens, at most 255 bytes) or is a
// multipart type (the body is the file itself, not a form).
Result<std::string> ParseMediaType(const std::string* content_type);

// The file name an upload suggests in X-Filename (nullptr: none → ""). Valid %XX sequences are
// decoded (so any name can travel in a header); the result must be UTF-8. Directories are
// dropped (only what follows the last '/' or '\'), control characters removed, surrounding
// spaces trimmed, "." and ".." become "", and it is cut to 255 bytes on a character boundary.
// kInvalidArgument if the value is over 1024 bytes or not UTF-8.
Result<std::string> SanitizeFilename(const std::string* x_filename);

// Whether browsers may render the type in place: image/*, video/*, audio/*, except SVG (which
// can carry script). Everything else is served as an attachment.
bool IsInlineType(std::string_view media_type);

// The Content-Disposition value: "attachment" or "inline", with filename= (an ASCII fallback)
// and filename*=UTF-8''… (RFC 6266, RFC 8187) when there is a name. Empty for an inline type
// without a name (no header needed).
std::string ContentDisposition(std::string_view media_type, std::string_view filename);

}  // namespace parley::services
