// Events: the seed's topics and the JSON envelope {event_id, type, occurred_at, key, payload}.
// The same schema travels on the in-process bus and on Kafka.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

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
// Not a seed topic: revocations every node must apply at once (device revoked, token logged out).
inline constexpr std::string_view kAuth = "auth-events";
// Not a seed topic: the live events of message-events addressed to the nodes holding a
// recipient's connection (EventBus::PublishTo, Delivery::kAddressed). On Kafka each node has its
// own topic, "deliveries.<node id>", which the node creates at start.
inline constexpr std::string_view kDeliveries = "deliveries";
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
inline constexpr std::string_view kDeviceRevoked = "DEVICE_REVOKED";            // key: user_id
inline constexpr std::string_view kAccessTokenDenied = "ACCESS_TOKEN_DENIED";  // key: user_id
// A device's refresh token was reused: its access tokens issued before `before_s` are refused.
// key: user_id
inline constexpr std::string_view kDeviceSessionsRevoked = "DEVICE_SESSIONS_REVOKED";
// Routed delivery (topic deliveries): a user's first connection on the publishing node; the
// others drop what they cached about where the user is. key: user_id
inline constexpr std::string_view kRoutesChanged = "ROUTES_CHANGED";
}  // namespace type

struct Event {
  std::string event_id;  // UUIDv7
  std::string type;
  int64_t occurred_at = 0;
  std::string key;  // partition key: conversation_id, user_id, group_id or media_id
  boost::json::object payload;
};

using EventPtr = std::shared_ptr<const Event>;

// Bounds of an envelope on the wire (FromJson rejects anything past them; KafkaBus does not
// produce an event whose JSON exceeds kMaxEnvelopeBytes). The size stays under Kafka's default
// message.max.bytes (1,000,000) with room for the record's own overhead.
inline constexpr size_t kMaxEnvelopeBytes = 900 * 1024;
inline constexpr size_t kMaxTypeBytes = 64;   // upper-case ASCII letters, digits and '_'
inline constexpr size_t kMaxKeyBytes = 256;   // any UTF-8 string, possibly empty
inline constexpr int64_t kMaxOccurredAtMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

// A new event with a fresh id and the current time.
EventPtr MakeEvent(std::string_view type, std::string key, boost::json::object payload);
// The same with a given id (a UUID): an event that may be published again (a message's
// MESSAGE_SENT carries its message_id), so that consumers drop the repeat by event_id.
EventPtr MakeEventWithId(std::string event_id, std::string_view type, std::string key,
                         boost::json::object payload);
boost::json::object ToJson(const Event& e);
// The envelope as one line of JSON: what an adapter puts on the wire.
std::string Serialize(const Event& e);

// Decodes an envelope read from the wire (untrusted: another node, or anything that can write to
// the topic). Returns kInvalidArgument, naming the first problem but never quoting the input,
// unless `text` is at most kMaxEnvelopeBytes of one JSON object (depth at most 32) with
//   event_id     a UUID (returned in canonical lowercase form)
//   type         1..kMaxTypeBytes of [A-Z0-9_]
//   occurred_at  an integer in [0, kMaxOccurredAtMs] (Unix ms)
//   key          a string of at most kMaxKeyBytes
//   payload      an object
// Unknown top-level fields are ignored, so a newer node may add some during a rolling upgrade.
// Pure and thread-safe.
Result<Event> FromJson(std::string_view text);

}  // namespace parley::events
