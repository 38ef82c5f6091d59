// Profiles: where a Client keeps its account. A profile is a directory (mode 0700) holding
// client.db (LocalStore, 0600) and temporary files of media being encrypted or decrypted.
#pragma once

#include <string>

#include "common/result.h"

namespace parley::sdk {

// The directory of profile `name`:
// - a name containing '/' is a path, used as is;
// - otherwise $PARLEY_HOME/<name> if PARLEY_HOME is set, else ~/.parley/<name>;
// - an empty name means $PARLEY_PROFILE, else "default".
// kInvalidArgument for a name of "." or ".." or without a home directory to put it in.
Result<std::string> ProfileDir(const std::string& name);

// Creates `dir` (and missing parents) and sets it to 0700. kUnavailable on failure.
Result<Unit> EnsurePrivateDir(const std::string& dir);

}  // namespace parley::sdk
