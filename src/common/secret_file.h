// Files that hold secrets (the token-signing and media-URL keys): created with mode 0600 in a
// directory created 0700, and refused on load when other users may read or write them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley {

// The file's contents; nullopt if it does not exist or is empty. kInvalidArgument (saying which
// chmod fixes it) if its group or others have any access to it; kUnavailable if it cannot be read.
Result<std::optional<std::string>> ReadSecretFile(const std::string& path);
// Writes `bytes` to `path`, which must not exist, with mode 0600, and fsyncs it.
Status WriteNewSecretFile(const std::string& path, std::string_view bytes);
// Creates `dir` and its missing parents; a directory created here gets mode 0700.
Status EnsurePrivateDir(const std::string& dir);

}  // namespace parley
