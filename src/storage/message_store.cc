#include "storage/message_store.h"

namespace parley::storage {

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
