#include "services/gateway/client_frame.h"

#include "common/json_fields.h"

namespace parley::services {

Result<ClientFrame> ParseClientFrame(std::string_view text, boost::json::value* ref) {
  *ref = nullptr;
  auto parsed = ParseJsonObject(text);
  if (!parsed.ok()) return parsed.error();
  ClientFrame frame;
  frame.fields = std::move(*parsed);
  if (const auto* r = frame.fields.if_contains("ref")) *ref = *r;
  const auto* type_v = frame.fields.if_contains("type");
  std::string_view type = type_v && type_v->is_string() ? std::string_view(type_v->as_string())
                                                         : std::string_view();
  if (type == "send") {
    frame.type = ClientFrameType::kSend;
  } else if (type == "mark_delivered") {
    frame.type = ClientFrameType::kMarkDelivered;
  } else if (type == "mark_read") {
    frame.type = ClientFrameType::kMarkRead;
  } else if (type == "typing") {
    frame.type = ClientFrameType::kTyping;
    Fields fields(frame.fields);
    auto conv = fields.Uuid("conversation_id", true);
    if (!fields.ok()) return fields.error();
    frame.conversation_id = std::move(*conv);
  } else if (type == "ping") {
    frame.type = ClientFrameType::kPing;
  } else if (type == "ack_to_device") {
    frame.type = ClientFrameType::kAckToDevice;
    Fields fields(frame.fields);
    auto up_to = fields.Int("up_to_id", true, 1, kMaxToDeviceId);
    if (!fields.ok()) return fields.error();
    frame.up_to_id = *up_to;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown frame type; expected send, mark_delivered, mark_read, typing, ping "
                     "or ack_to_device");
  }
  return frame;
}

}  // namespace parley::services
