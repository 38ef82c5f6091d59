#include "storage/message_store.h"

namespace parley::storage {

Message NewMessage(const AppendRequest& req, std::string message_id, int64_t seq,
                   int64_t created_at) {
  Message m;
  m.message_id = std::move(message_id);
  m.conversation_id = req.conversation_id;
  m.seq = seq;
  m.sender_id = req.sender_id;
  m.sender_device_id = req.sender_device_id;
  m.created_at = created_at;
  m.content_type = req.content_type;
  m.encryption = req.encryption;
  m.body = req.body;
  m.media_ids = req.media_ids;
  m.search_tokens = req.search_tokens;
  m.reply_to = req.reply_to;
  return m;
}

Error ToDeviceQueueFull(std::string_view device_id, int64_t messages, int64_t bytes,
                        const ToDeviceCap& cap) {
  std::string m = "device " + std::string(device_id) +
                  " has too many to-device messages waiting (" + std::to_string(messages) +
                  " of at most " + std::to_string(cap.max_messages) + ", " +
                  std::to_string(bytes) + " of at most " + std::to_string(cap.max_bytes) +
                  " bytes; 0 = no cap): nothing was queued; retry once it has synced";
  return Error{ErrorCode::kRateLimited, std::move(m), 60};
}

}  // namespace parley::storage
