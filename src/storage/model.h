// Plain data records shared by the store interfaces and the services. No behaviour.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::storage {

// Completion of an asynchronous store write. Runs on the store's completion thread, in commit
// order, after the transaction has committed (or failed); it must not block.
template <typename T>
using Done = std::function<void(Result<T>)>;

struct User {
  std::string user_id;
  std::string username;
  std::string display_name;
  std::string password_hash;  // argon2id encoded string; never leaves the auth service
  std::string profile_pic_url;
  std::string status;  // online, away, busy, offline: the status the user chose
  std::string status_text;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;  // 0 = never
  bool is_admin = false;
};

struct Device {
  std::string device_id;
  std::string user_id;
  std::string device_name;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  bool revoked = false;
};

struct RefreshToken {
  std::string token_hash;  // SHA-256 of the opaque token; the token itself is never stored
  std::string user_id;
  std::string device_id;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

// What rotating a refresh token found.
struct RotateOutcome {
  enum class Kind { kRotated, kUnknown, kExpired, kReused, kRevoked } kind = Kind::kUnknown;
  std::string user_id;
  std::string device_id;
};

struct SignedPrekey {
  int64_t key_id = 0;
  std::string public_key;
  std::string signature;
};

struct OneTimePrekey {
  int64_t key_id = 0;
  std::string public_key;
};

struct DeviceKeys {
  std::string device_id;
  std::string user_id;
  std::string identity_key;
  std::string signing_key;
  SignedPrekey signed_prekey;
  std::vector<OneTimePrekey> one_time_prekeys;  // on upload: to add; on claim: at most one
};

struct Message {
  std::string message_id;
  std::string conversation_id;
  int64_t seq = 0;
  std::string sender_id;
  std::string sender_device_id;
  int64_t created_at = 0;
  std::string content_type;
  std::string encryption;
  std::string body;
  std::vector<std::string> media_ids;
  std::optional<std::vector<std::string>> search_tokens;
  std::optional<std::string> reply_to;
};

struct Conversation {
  std::string conversation_id;
  std::string type;  // direct, group
  std::string group_id;
  std::string title;
  int64_t created_at = 0;
  int64_t last_seq = 0;
  int64_t last_message_at = 0;
};

// A user's place in a conversation. Visible messages are seq in (joined_seq, left_seq].
struct Membership {
  std::string conversation_id;
  std::string user_id;
  int64_t joined_seq = 0;
  std::optional<int64_t> left_seq;
  int64_t delivered_seq = 0;
  int64_t read_seq = 0;
  bool active() const { return !left_seq.has_value(); }
  int64_t visible_max(int64_t last_seq) const { return left_seq ? std::min(*left_seq, last_seq) : last_seq; }
};

struct ConversationSummary {
  Conversation conversation;
  Membership membership;
  std::string peer_user_id;  // direct only
  std::optional<Message> last_message;
  int64_t unread_count = 0;
};

struct ToDeviceMessage {
  int64_t id = 0;
  std::string to_device_id;
  std::string to_user_id;
  std::string sender_id;
  std::string sender_device_id;
  std::string body;
  int64_t created_at = 0;
};

struct Receipt {
  std::string user_id;
  int64_t delivered_at = 0;  // 0 = not yet
  int64_t read_at = 0;
};

struct MessageStatus {
  Message message;
  std::vector<Receipt> receipts;  // one per recipient (members who could see it, not the sender)
};

}  // namespace parley::storage
