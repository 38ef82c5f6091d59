#include "sdk/client/client_profile.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace parley::sdk {

Result<std::string> ProfileDir(const std::string& name) {
  std::string n = name;
  if (n.empty()) {
    const char* env = std::getenv("PARLEY_PROFILE");
    n = env && *env ? env : "default";
  }
  if (n.find('/') != std::string::npos) return n;
  if (n == "." || n == "..") return MakeError(ErrorCode::kInvalidArgument, "bad profile name");
  if (const char* home = std::getenv("PARLEY_HOME"); home && *home)
    return std::string(home) + "/" + n;
  const char* home = std::getenv("HOME");
  if (!home || !*home)
    return MakeError(ErrorCode::kInvalidArgument, "HOME is not set; give --profile a path");
  return std::string(home) + "/.parley/" + n;
}

Result<Unit> EnsurePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot create " + dir + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0)
    return MakeError(ErrorCode::kUnavailable, "cannot set the mode of " + dir);
  return Unit{};
}

}  // namespace parley::sdk
