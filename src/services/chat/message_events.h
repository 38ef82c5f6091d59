// The events a newly stored message produces, in one place for every module that stores
// messages (chat sends, group system messages): MESSAGE_SENT through the DeliveryRouter (the
// gateways turn it into `message` frames to `member_ids`; its event_id is the message_id, so a
// repeat is dropped by consumers) and CONVERSATION_UPDATED on conversation-events. Call from
// the store's commit completion, so they go out in seq order.
#pragma once

#include <string>
#include <vector>

#include "services/delivery/delivery_router.h"
#include "storage/model.h"

namespace parley::services {

// `member_ids`: the users who may see the message (its conversation's audience at commit).
// `confirm`: told when the bus holds the MESSAGE_SENT (the outbox relay's, OutboxRelay).
void PublishMessageSent(DeliveryRouter& deliveries, const storage::Message& m,
                        const std::vector<std::string>& member_ids,
                        events::ConfirmationPtr confirm = nullptr);

}  // namespace parley::services
