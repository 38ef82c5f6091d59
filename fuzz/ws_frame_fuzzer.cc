// One WebSocket text message from a client, through what WsSession::Handle does before touching
// any store: ParseClientFrame (JSON object, `ref`, `type`, typing's conversation id,
// ack_to_device's up_to_id), then the body checks of the frame's type, ParseSendRequest /
// ParseMarkRequest, shared with HTTP.
// Checks the parsers' promises on what they accept.
#include <cstdlib>
#include <string_view>

#include "common/ids.h"
#include "services/chat/chat_requests.h"
#include "services/gateway/client_frame.h"

using namespace parley;
using namespace parley::services;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::json::value ref;
  auto frame = ParseClientFrame(text, &ref);
  if (!frame.ok()) {
    FUZZ_CHECK(frame.error().code == ErrorCode::kInvalidArgument);
    return 0;
  }
  switch (frame->type) {
    case ClientFrameType::kSend: {
      auto r = ParseSendRequest(frame->fields);
      if (!r.ok()) {
        FUZZ_CHECK(r.error().code == ErrorCode::kInvalidArgument);
        break;
      }
      FUZZ_CHECK(r->conversation_id.has_value() != r->to_user_id.has_value());
      FUZZ_CHECK(!r->client_msg_id.empty() && r->client_msg_id.size() <= 128);
      FUZZ_CHECK(!r->content_type || *r->content_type != "system");
      FUZZ_CHECK(r->media_ids.size() <= 32);
      for (const auto& id : r->media_ids) FUZZ_CHECK(NormalizeUuid(id) == id);
      if (r->conversation_id) FUZZ_CHECK(NormalizeUuid(*r->conversation_id) == *r->conversation_id);
      break;
    }
    case ClientFrameType::kMarkDelivered:
    case ClientFrameType::kMarkRead: {
      auto r = ParseMarkRequest(frame->fields);
      if (r.ok()) FUZZ_CHECK(r->up_to_seq >= 0 && IsUuid(r->conversation_id));
      break;
    }
    case ClientFrameType::kTyping:
      FUZZ_CHECK(NormalizeUuid(frame->conversation_id) == frame->conversation_id);
      break;
    case ClientFrameType::kPing:
      break;
    case ClientFrameType::kAckToDevice:
      FUZZ_CHECK(frame->up_to_id >= 1 && frame->up_to_id <= kMaxToDeviceId);
      break;
  }
  return 0;
}
