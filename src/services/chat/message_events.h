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

class OutboxRelay;  // services/delivery/outbox_relay.h

// `member_ids`: the users who may see the message (its conversation's audience at commit).
// `outbox` (nullptr: none): the relay of the store's outbox, told when the bus holds the
// MESSAGE_SENT, so the message's outbox entry goes (OutboxRelay::Track).
void PublishMessageSent(DeliveryRouter& deliveries, OutboxRelay* outbox, const storage::Message& m,
                        const std::vector<std::string>& member_ids);

}  // namespace parley::services
