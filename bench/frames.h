// The WebSocket frames of docs/api.md ("WebSocket") that the bench sends and reads. Outgoing frames
// are written by hand into a reused buffer (they are the hot path and contain only characters
// the bench chose); incoming ones are read from a parsed boost::json object.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::bench {

// A UUIDv4-shaped client_msg_id, unique per (salt, counter).
void AppendClientMsgId(std::string& out, uint64_t salt, uint64_t counter);

// {"type":"send","ref":"REF",TARGET_KEY:"TARGET","client_msg_id":"...","body":"BODY",
//  "encryption":"ENCRYPTION"}; target_key is "conversation_id" or "to_user_id". The ref is sent
// as a string of digits. BODY must need no JSON escaping; ENCRYPTION is "none" or "e2ee-v1" (the
// server stores an e2ee-v1 body as it is and never indexes it).
void AppendSendFrame(std::string& out, uint64_t ref, std::string_view target_key,
                     std::string_view target, uint64_t salt, uint64_t counter,
                     std::string_view body, std::string_view encryption = "none");

// {"type":"mark_delivered","conversation_id":"...","up_to_seq":N}
void AppendMarkDelivered(std::string& out, std::string_view conversation_id, int64_t up_to_seq);

std::string_view TypeOf(const boost::json::object& frame);
// The `ref` echoed by ack/error: a string of digits or a number. nullopt if absent or foreign.
std::optional<uint64_t> RefOf(const boost::json::object& frame);
// The error code of an error frame, accepting {error:{code}} and a flat {code}.
std::string ErrorCodeOf(const boost::json::object& frame);
std::string ErrorMessageOf(const boost::json::object& frame);
std::string_view StringOf(const boost::json::object& o, std::string_view key);
std::optional<int64_t> IntOf(const boost::json::object& o, std::string_view key);

}  // namespace parley::bench
