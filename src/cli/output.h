// How `parley` prints: human-readable lines, or with --json one JSON object per line (per
// result). Errors go to stderr as "parley: <message>" or {"error":{"code","message"}}.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "common/result.h"
#include "sdk/client/client.h"

namespace parley::cli {

class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  bool json() const { return json_; }

  // One result: `human` (a line, or several) or `obj` as a JSON line.
  void Emit(const std::string& human, const boost::json::object& obj) const;
  // Prints the error and returns the exit code of its class (common/error_map.h).
  int Fail(const Error& e) const;

  // A message as a JSON object / as a line of text ("[12:00:01] alice: hi").
  boost::json::object MessageJson(sdk::Client& c, const sdk::LocalMessage& m) const;
  std::string MessageLine(sdk::Client& c, const sdk::LocalMessage& m) const;
  void EmitMessage(sdk::Client& c, const sdk::LocalMessage& m) const {
    Emit(MessageLine(c, m), MessageJson(c, m));
  }
  boost::json::object GroupJson(sdk::Client& c, const sdk::Group& g) const;
  std::string GroupText(sdk::Client& c, const sdk::Group& g) const;

 private:
  bool json_;
};

// "2024-05-01 12:00:01" (local time) of milliseconds since the epoch.
std::string FormatTime(int64_t ms);

}  // namespace parley::cli
