// The values of the Parley API as the SDK sees them (docs/api.md, docs/openapi.yaml), and their
// JSON readers. Readers are lenient about what the server sends (missing fields take defaults,
// unknown fields are ignored), since the server is trusted to follow the contract and a newer
// server may add fields.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sdk/e2ee/ports.h"

namespace parley::sdk {

struct Tokens {
  std::string access_token, refresh_token;
  int64_t expires_at = 0;  // ms since the epoch when the access token expires; 0 = unknown
};

struct LoginResult {
  std::string user_id, device_id;
  Tokens tokens;
};

struct User {
  std::string user_id, username, display_name, profile_pic_url;
  int64_t created_at = 0;
};

struct Device {
  std::string device_id, device_name;
  int64_t created_at = 0, last_seen_at = 0;
  bool current = false;
};

struct Message {
  std::string message_id, conversation_id;
  int64_t seq = 0;
  std::string sender_id, sender_device_id;
  int64_t created_at = 0;
  std::string content_type, encryption, body;
  std::vector<std::string> media_ids, search_tokens;
  std::string reply_to;  // "" if none
};

struct ToDeviceMessage {
  int64_t id = 0;
  std::string to_device_id, sender_id, sender_device_id, body;
  int64_t created_at = 0;
};

struct PendingPage {  // GET /v1/get-messages
  std::vector<Message> messages;
  std::vector<ToDeviceMessage> to_device;
  std::string cursor;
  bool has_more = false;
};

struct HistoryPage {  // GET /v1/get-chat-history
  std::vector<Message> messages;
  bool has_more = false;
};

struct Conversation {
  std::string conversation_id, type, title, peer_user_id, group_id;
  std::optional<Message> last_message;
  int64_t last_seq = 0, read_seq = 0, unread_count = 0, last_activity_at = 0;
  bool member = true;
};

// What to send (POST /v1/send-message, or a `send` frame). Exactly one of conversation_id and
// to_user_id. Empty optional fields are left out.
struct OutgoingMessage {
  std::string conversation_id, to_user_id;
  std::string client_msg_id;
  std::string body;
  std::string content_type;  // "" = server default (text)
  std::string encryption;    // "" = server default (none)
  std::vector<std::string> media_ids, search_tokens;
  std::string reply_to;
};

struct SendResult {
  std::string message_id, conversation_id;
  int64_t seq = 0, created_at = 0;
  bool duplicate = false;  // the server had this client_msg_id already (HTTP 200, ack duplicate)
};

struct Receipt {
  std::string user_id;
  int64_t delivered_at = 0, read_at = 0;  // 0 = not yet
};

struct MessageStatus {
  std::string message_id, conversation_id, status;
  int64_t seq = 0;
  std::vector<Receipt> receipts;
};

struct PresenceStatus {
  std::string user_id, status, text;
  int64_t last_seen_at = 0;
};

struct GroupMember {
  std::string user_id, role;
  int64_t joined_at = 0;
};

struct Group {
  std::string group_id, conversation_id, name, creator_id;
  int64_t created_at = 0, updated_at = 0;
  std::vector<GroupMember> members;
};

struct Media {
  std::string media_id, media_type, sha256, url, uploader_id, filename, thumbnail_state;
  int64_t size = 0, url_expires_at = 0, created_at = 0;
};

// --- JSON ---
std::string JStr(const boost::json::object& o, std::string_view key);
int64_t JInt(const boost::json::object& o, std::string_view key);
bool JBool(const boost::json::object& o, std::string_view key, bool fallback = false);
const boost::json::object* JObj(const boost::json::object& o, std::string_view key);
std::vector<std::string> JStrList(const boost::json::object& o, std::string_view key);

User UserFromJson(const boost::json::object& o);
Device DeviceFromJson(const boost::json::object& o);
Message MessageFromJson(const boost::json::object& o);
ToDeviceMessage ToDeviceFromJson(const boost::json::object& o);
Conversation ConversationFromJson(const boost::json::object& o);
Group GroupFromJson(const boost::json::object& o);
Media MediaFromJson(const boost::json::object& o);
PresenceStatus PresenceFromJson(const boost::json::object& o);
PrekeyBundle BundleFromJson(const std::string& user_id, const boost::json::object& o);
SendResult SendResultFromJson(const boost::json::object& o);

boost::json::object ToJson(const OutgoingMessage& m);
boost::json::object ToJson(const PublishedKeys& k);

}  // namespace parley::sdk
