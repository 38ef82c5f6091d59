// MessageOutbox: the messages whose MESSAGE_SENT event the bus has not acknowledged yet. A store
// that has one writes an entry in the same transaction as the message, a send's or a group
// change's system message (a transactional outbox),
// so a crash, a full producer queue or a lost COMMIT answer between the commit and the publish
// cannot leave a stored message that no live event announces: whoever finds an old entry
// publishes the event again (services/delivery/outbox_relay.h). Consumers drop the repeat (the
// event's id is the message_id; a WebSocket session drops a seq it has sent).
//
// Only the PostgreSQL adapter has one, and only when asked (PostgresOptions::outbox: the bus is
// shared, Kafka). With the in-process bus the subscribers run before the append's completion
// returns, so nothing can be lost between the two without losing the process and its sessions.
//
// Thread-safe; calls block on the store (call them from a background thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::storage {

struct OutboxEntry {
  std::string conversation_id;
  int64_t seq = 0;
  std::string message_id;
  int64_t created_at = 0;  // the message's
};

class MessageOutbox {
 public:
  virtual ~MessageOutbox() = default;

  // Removes the entries of these messages (absent ones are fine): their events were
  // acknowledged. Errors: kUnavailable.
  virtual Status MarkAnnounced(const std::vector<OutboxEntry>& entries) = 0;
  // Takes up to `limit` entries of messages created before `created_before_ms`, oldest first,
  // that nobody took within the last `claim_ms` (each node's relay looks, so one that stopped
  // midway leaves them to another after that long). Errors: kUnavailable.
  virtual Result<std::vector<OutboxEntry>> ClaimUnannounced(int64_t created_before_ms,
                                                            int64_t claim_ms, int limit) = 0;
};

}  // namespace parley::storage
