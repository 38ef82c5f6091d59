// Chat service: sending, pending sync, history, conversation lists, receipts, message status and
// to-device messages. The same Send/Mark entry points serve HTTP and the WebSocket gateway.
//
// Events are published from the store's commit completion, on the store's completion thread, so subscribers
// see each conversation's messages in seq order: MESSAGE_SENT and CONVERSATION_UPDATED on every
// new message, MESSAGE_DELIVERED / MESSAGE_READ when a user's mark moves, TO_DEVICE_SENT.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <vector>

#include "common/histogram.h"
#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class ChatService {
 public:
  explicit ChatService(Context& ctx);
  void Register(transport::Router& router);
  // Who may name a media id in a message: by default anyone; the composition root sets the media
  // service's rule (the uploader, or someone who can already see it). Blocking: runs on the pool.
  using MediaAccess = std::function<Result<bool>(const std::string& user_id, const std::string& media_id)>;
  void SetMediaAccess(MediaAccess access) { media_access_ = std::move(access); }
  // Tests only (PARLEY_FAULT_SKIP_MESSAGE_EVENTS): the next `n` stored messages are not
  // published, as if the node crashed between the commit and the publish.
  void SkipPublishesForTest(int64_t n) { skip_publishes_.store(n); }

  // Validates a send-message body and stores the message. The result says whether it was a
  // duplicate (same device and client_msg_id): then nothing new was stored or published.
  boost::asio::awaitable<Result<storage::AppendResult>> Send(const transport::Principal& who,
                                                             const boost::json::object& body);
  // mark-delivered (read = false) / mark-read from a {conversation_id, up_to_seq} body.
  boost::asio::awaitable<Status> Mark(const transport::Principal& who,
                                      const boost::json::object& body, bool read);
  // Deletes to-device messages up to `up_to_id` once a device has them.
  boost::asio::awaitable<Status> AckToDevice(const transport::Principal& who, int64_t up_to_id);

 private:
  using Awaitable = boost::asio::awaitable<transport::HttpResponse>;
  Awaitable SendMessage(transport::HttpRequest& req);
  Awaitable GetMessages(transport::HttpRequest& req);
  Awaitable History(transport::HttpRequest& req);
  Awaitable Conversations(transport::HttpRequest& req);
  Awaitable MarkHttp(transport::HttpRequest& req, bool read);
  Awaitable MessageStatus(transport::HttpRequest& req);
  Awaitable SendToDevice(transport::HttpRequest& req);
  // Takes a request's messages (one per target device) and body bytes from the user's
  // send-to-device budgets; the refusal (kRateLimited with the wait) if one is spent.
  std::optional<Error> SpendToDeviceBudget(const std::string& user_id,
                                           const std::vector<storage::ToDeviceMessage>& out);

  boost::asio::awaitable<Status> MarkUpTo(const transport::Principal& who,
                                          const std::string& conversation_id, int64_t up_to_seq,
                                          bool read);
  void PublishSent(const storage::AppendResult& r);
  void PublishReceipt(const std::string& user_id, const std::string& conversation_id,
                      const storage::ReceiptChange& change);

  Context& ctx_;
  MediaAccess media_access_;  // set before serving
  std::atomic<int64_t> skip_publishes_{0};
  std::atomic<uint64_t>& sent_total_;
  Histogram& send_seconds_;    // Send: parsed to stored (the ack follows)
  Histogram& append_seconds_;  // the store's Append: called to its completion
};

}  // namespace parley::services
