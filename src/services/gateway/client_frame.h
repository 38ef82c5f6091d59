// The frames a client sends on /v1/ws, read from the text of one WebSocket message before
// anything is done with them. A pure function, so it is fuzzed (fuzz/ws_frame_fuzzer.cc); the
// bodies of send and mark frames are then checked by ParseSendRequest / ParseMarkRequest
// (services/chat/chat_requests.h), as for HTTP.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::services {

enum class ClientFrameType { kSend, kMarkDelivered, kMarkRead, kTyping, kPing, kAckToDevice };

// The largest `up_to_id` of an ack_to_device frame: to-device ids are positive and stay exact
// in every JSON reader (2^53 − 1).
inline constexpr int64_t kMaxToDeviceId = (int64_t{1} << 53) - 1;

struct ClientFrame {
  ClientFrameType type = ClientFrameType::kPing;
  boost::json::object fields;   // the whole frame: send and mark frames are their own bodies
  std::string conversation_id;  // typing only: a canonical UUID
  int64_t up_to_id = 0;         // ack_to_device only: 1 … kMaxToDeviceId
};

// kInvalidArgument for text that is not one JSON object, an unknown `type`, a typing frame
// without a valid conversation_id, or an ack_to_device frame whose `up_to_id` is not an integer
// in [1, kMaxToDeviceId]. `*ref` is set to the frame's `ref` (any JSON value, echoed
// in the reply) whenever the text is a JSON object, even if the frame is then rejected; it is
// left null otherwise.
Result<ClientFrame> ParseClientFrame(std::string_view text, boost::json::value* ref);

}  // namespace parley::services
