// The bodies of send-message and mark-delivered/mark-read (HTTP and WebSocket alike), read and
// checked as pure functions of the JSON: no I/O, no config, so they are unit-tested and fuzzed
// (fuzz/ws_frame_fuzzer.cc). Limits that depend on the server's config (message size, plaintext
// allowed) are checked by ChatService.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::services {

struct SendRequest {
  // Exactly one of the two is set.
  std::optional<std::string> conversation_id;
  std::optional<std::string> to_user_id;
  std::string client_msg_id;  // not empty
  std::optional<std::string> content_type;  // a short lowercase word, not "system"
  std::optional<std::string> encryption;    // "none" or "e2ee-v1"
  std::vector<std::string> media_ids;       // canonical UUIDs
  std::optional<std::vector<std::string>> search_tokens;  // lowercase hex
  std::optional<std::string> reply_to;
  std::string body;
};

// kInvalidArgument naming the first field that is missing or malformed.
Result<SendRequest> ParseSendRequest(const boost::json::object& body);

struct MarkRequest {
  std::string conversation_id;
  int64_t up_to_seq = 0;  // >= 0
};

// kInvalidArgument naming the first field that is missing or malformed.
Result<MarkRequest> ParseMarkRequest(const boost::json::object& body);

}  // namespace parley::services
