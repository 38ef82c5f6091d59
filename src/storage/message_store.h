// MessageStore: conversations, memberships, messages, delivery cursors, receipts and to-device
// queues. Per conversation, seq is 1, 2, 3, … with no gaps, assigned at commit. Readers (History,
// Pending) never pass a committed seq they cannot read: clients mark delivered up to the highest
// seq they got, so a page that held s+1 without s would lose s for good. A page ends before such
// a seq (has_more), or the read fails (kUnavailable).
// Threading and errors as in auth_store.h.
#pragma once

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

struct AppendRequest {
  std::string conversation_id;
  // Set for a direct conversation: the two users. The conversation is created if absent.
  std::optional<std::pair<std::string, std::string>> direct_pair;
  std::string sender_id;
  std::string sender_device_id;
  std::string client_msg_id;
  std::string content_type;
  std::string encryption;
  std::string body;
  std::vector<std::string> media_ids;
  std::optional<std::vector<std::string>> search_tokens;
  std::optional<std::string> reply_to;
};

struct AppendResult {
  Message message;
  // The (device, client_msg_id) was seen and answered: `message` is the first one. False for a
  // retry that completes a first attempt answered with an error (Cassandra: its row was never
  // written), which is then announced as new.
  bool duplicate = false;
  std::vector<std::string> member_ids;  // active members at commit, for fan-out
};

// The message an append stores: the request's fields with its id, seq and time (every adapter).
Message NewMessage(const AppendRequest& req, std::string message_id, int64_t seq,
                   int64_t created_at);

using SeqFloors = std::unordered_map<std::string, int64_t>;

// What may wait for one device in its to-device queue; 0 = no cap.
struct ToDeviceCap {
  int64_t max_messages = 0;
  int64_t max_bytes = 0;  // of the bodies
};

// The refusal of EnqueueToDevice when `device_id` already has `messages` waiting, of `bytes`:
// kRateLimited, retry after 60 s (the device drains its queue when it syncs).
Error ToDeviceQueueFull(std::string_view device_id, int64_t messages, int64_t bytes,
                        const ToDeviceCap& cap);
// Whether one more body of `body_bytes` fits next to `messages` of `bytes` waiting.
inline bool ToDeviceFits(const ToDeviceCap& cap, int64_t messages, int64_t bytes,
                         int64_t body_bytes) {
  return (cap.max_messages <= 0 || messages + 1 <= cap.max_messages) &&
         (cap.max_bytes <= 0 || bytes + body_bytes <= cap.max_bytes);
}

struct PendingPage {
  std::vector<Message> messages;  // grouped by conversation, seq ascending within each
  std::vector<ToDeviceMessage> to_device;  // oldest first
  bool has_more = false;
};

// How far back a receipt looks for the senders it concerns (see ReceiptChange::recipient_ids).
inline constexpr int64_t kReceiptSenderWindow = 1000;

// What a receipt changed. A user's marks only move forward; an event is due for each that moved.
struct ReceiptChange {
  bool delivered_advanced = false;
  bool read_advanced = false;
  int64_t delivered_seq = 0;  // the user's marks after the change
  int64_t read_seq = 0;
  int64_t at = 0;
  // Who gets the receipt live, when a mark moved: the senders of the messages it newly covers
  // (the newest kReceiptSenderWindow of them; older ones read message-status) and the marking
  // user (their other devices). Not every member: in a group that would be members² frames.
  std::vector<std::string> recipient_ids;

  // The seqs (lo, hi] a change newly covers, given the marks before it.
  std::pair<int64_t, int64_t> CoveredRange(int64_t delivered_before, int64_t read_before) const {
    int64_t hi = std::max(delivered_seq, read_seq);
    int64_t lo = hi;
    if (delivered_advanced) lo = std::min(lo, delivered_before);
    if (read_advanced) lo = std::min(lo, read_before);
    return {std::max(lo, hi - kReceiptSenderWindow), hi};
  }
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Stores a message with the next seq. Idempotent by (sender_device_id, client_msg_id): a
  // repeat returns the first message with duplicate = true and stores nothing.
  // kNotFound: no such conversation (and no direct_pair). kForbidden: sender not an active member.
  virtual void Append(AppendRequest req, Done<AppendResult> done) = 0;

  virtual Result<Conversation> GetConversation(std::string_view conversation_id) = 0;
  // kNotFound if the user was never a member.
  virtual Result<Membership> GetMembership(std::string_view conversation_id,
                                           std::string_view user_id) = 0;
  // Messages with seq in [min_seq, max_seq]: newest first from below `before_seq` when
  // `ascending` is false, else oldest first from above `after_seq`. Up to `limit`; has_more.
  virtual Result<std::pair<std::vector<Message>, bool>> History(std::string_view conversation_id,
                                                                int64_t min_seq, int64_t max_seq,
                                                                int64_t after_seq,
                                                                int64_t before_seq, bool ascending,
                                                                int limit) = 0;
  virtual Result<Message> GetMessage(std::string_view message_id) = 0;
  // The user's conversations, newest activity first.
  virtual Result<std::vector<ConversationSummary>> ListConversations(std::string_view user_id,
                                                                     int limit) = 0;
  // Pending for a device: messages above its delivery cursor not sent by itself, within the
  // user's visible range, and its to-device queue. Up to `limit` of each. `floors` (conversation
  // → seq) and `to_device_after` skip what a caller has already been given without marking it.
  virtual Result<PendingPage> Pending(std::string_view user_id, std::string_view device_id,
                                      int limit, const SeqFloors& floors,
                                      int64_t to_device_after) = 0;

  // Moves the device's cursor and the user's mark up to `up_to_seq` (clamped to what the user can
  // see); never backwards. `read` implies delivered. kNotFound if no such conversation,
  // kForbidden if the user was never a member.
  virtual void MarkReceipt(std::string user_id, std::string device_id, std::string conversation_id,
                           int64_t up_to_seq, bool read, int64_t now, Done<ReceiptChange> done) = 0;
  // kNotFound if no such message.
  virtual Result<MessageStatus> GetMessageStatus(std::string_view message_id) = 0;

  // Queues every message or none; the results carry their ids. kNotFound if a target device is
  // not the named user's active device. kRateLimited (ToDeviceQueueFull) if a device would then
  // have more than `cap` waiting: what it has not acknowledged, this request's messages
  // included.
  virtual void EnqueueToDevice(std::vector<ToDeviceMessage> messages, ToDeviceCap cap,
                               Done<std::vector<ToDeviceMessage>> done) = 0;
  // Deletes the device's to-device messages with id <= up_to_id.
  virtual void AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) = 0;

  // The device's delivery cursor in the conversation: the seq it marked delivered up to (0 if
  // it never marked there). Pending starts above it (and above the user's joined_seq).
  virtual Result<int64_t> DeviceCursor(std::string_view device_id,
                                       std::string_view conversation_id) = 0;
  // Active members of a conversation (empty if none or no such conversation).
  virtual Result<std::vector<std::string>> ActiveMembers(std::string_view conversation_id) = 0;
  // Whether `user_id` can see a message that names `media_id` (a member of its conversation
  // whose visible range includes it).
  virtual Result<bool> CanSeeMedia(std::string_view user_id, std::string_view media_id) = 0;
  // Users who share a conversation with `user_id` as active members (not including themselves).
  virtual Result<std::vector<std::string>> Contacts(std::string_view user_id) = 0;
  virtual Result<bool> SharesConversation(std::string_view a, std::string_view b) = 0;
  // Every conversation the user is or was a member of (see Membership for what they can see),
  // most recent activity first. For search.
  virtual Result<std::vector<Membership>> Memberships(std::string_view user_id) = 0;
  // Up to `limit` conversations with id > `after_id`, in id order ("" = from the start). For
  // rebuilding derived data (the search index).
  virtual Result<std::vector<Conversation>> ScanConversations(std::string_view after_id,
                                                              int limit) = 0;
  // Is the store answering (for /readyz)?
  virtual Status Ping() = 0;
};

}  // namespace parley::storage
