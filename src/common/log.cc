#include "common/log.h"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <shared_mutex>

#include "common/time.h"

namespace parley {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_has_tap{false};
std::shared_mutex g_tap_mu;
LogTap* g_tap = nullptr;  // guarded by g_tap_mu

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string IsoTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

const char* LogLevelName(LogLevel level) { return LevelName(level); }

void SetLogTap(LogTap* tap) {
  std::unique_lock lock(g_tap_mu);
  g_tap = tap;
  g_has_tap.store(tap != nullptr);
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, std::string_view msg, LogFields fields) {
  if (!LogEnabled(level)) return;
  boost::json::object line;
  int64_t now = NowMs();
  line["ts"] = IsoTime(now);
  line["level"] = LevelName(level);
  line["msg"] = msg;
  for (const auto& f : fields) line[f.key] = f.value;
  std::string text = boost::json::serialize(line);
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stderr);
  if (g_has_tap.load(std::memory_order_relaxed)) {
    std::shared_lock lock(g_tap_mu);
    if (g_tap) g_tap->Offer(level, now, line, std::string_view(text.data(), text.size() - 1));
  }
}

}  // namespace parley
