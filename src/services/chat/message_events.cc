#include "services/chat/message_events.h"

#include <boost/json.hpp>

#include "events/event.h"
#include "services/chat/chat_json.h"
#include "services/delivery/outbox_relay.h"

namespace parley::services {

void PublishMessageSent(DeliveryRouter& deliveries, OutboxRelay* outbox, const storage::Message& m,
                        const std::vector<std::string>& member_ids) {
  events::ConfirmationPtr confirm = outbox ? outbox->Track(m) : nullptr;
  boost::json::array members;
  members.reserve(member_ids.size());
  for (const auto& id : member_ids) members.emplace_back(id);
  deliveries.Publish(events::type::kMessageSent, m.conversation_id,
                     {{"message_id", m.message_id},
                      {"conversation_id", m.conversation_id},
                      {"seq", m.seq},
                      {"sender_id", m.sender_id},
                      {"sender_device_id", m.sender_device_id},
                      {"created_at", m.created_at},
                      {"member_ids", members},
                      {"message", MessageToJson(m)}},
                     member_ids, m.message_id, confirm);
  if (confirm) confirm->Release();
  events::EventBus& bus = deliveries.bus();
  if (!bus.HasAudience(events::topic::kConversation)) return;
  bus.Publish(events::topic::kConversation,
              events::MakeEvent(events::type::kConversationUpdated, m.conversation_id,
                                {{"conversation_id", m.conversation_id},
                                 {"last_message_id", m.message_id},
                                 {"last_seq", m.seq},
                                 {"last_message_at", m.created_at},
                                 {"member_ids", std::move(members)}}));
}

}  // namespace parley::services
