// Events: the seed's topics and the JSON envelope {event_id, type, occurred_at, key, payload}.
// The same schema travels on the in-process bus and on Kafka.
#pragma once

#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace parley::events {

namespace topic {
inline constexpr std::string_view kMessage = "message-events";
inline constexpr std::string_view kUserStatus = "user-status-updates";
inline constexpr std::string_view kGroup = "group-events";
inline constexpr std::string_view kGroupMember = "group-member-events";
inline constexpr std::string_view kMedia = "media-events";
inline constexpr std::string_view kConversation = "conversation-events";
inline constexpr std::string_view kNotification = "notification-events";
inline constexpr std::string_view kAudit = "audit-events";
}  // namespace topic

namespace type {
inline constexpr std::string_view kMessageSent = "MESSAGE_SENT";
inline constexpr std::string_view kMessageDelivered = "MESSAGE_DELIVERED";
inline constexpr std::string_view kMessageRead = "MESSAGE_READ";
inline constexpr std::string_view kUserStatusChanged = "USER_STATUS_CHANGED";
inline constexpr std::string_view kConversationUpdated = "CONVERSATION_UPDATED";
inline constexpr std::string_view kToDevice = "TO_DEVICE_SENT";
inline constexpr std::string_view kTyping = "TYPING";
inline constexpr std::string_view kMediaUploaded = "MEDIA_UPLOADED";
inline constexpr std::string_view kMediaProcessed = "MEDIA_PROCESSED";  // thumbnail ready or failed
inline constexpr std::string_view kGroupCreated = "GROUP_CREATED";
inline constexpr std::string_view kGroupUpdated = "GROUP_UPDATED";
inline constexpr std::string_view kMemberJoinedGroup = "MEMBER_JOINED_GROUP";
inline constexpr std::string_view kMemberLeftGroup = "MEMBER_LEFT_GROUP";
}  // namespace type

struct Event {
  std::string event_id;  // UUIDv7
  std::string type;
  int64_t occurred_at = 0;
  std::string key;  // partition key: conversation_id, user_id, group_id or media_id
  boost::json::object payload;
};

using EventPtr = std::shared_ptr<const Event>;

// A new event with a fresh id and the current time.
EventPtr MakeEvent(std::string_view type, std::string key, boost::json::object payload);
boost::json::object ToJson(const Event& e);

}  // namespace parley::events
