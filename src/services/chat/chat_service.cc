#include "services/chat/chat_service.h"


#include "common/async.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "common/time.h"
#include "events/event.h"
#include "services/chat/chat_json.h"
#include "services/chat/chat_requests.h"
#include "services/chat/membership_check.h"
#include "services/chat/message_events.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

constexpr size_t kMaxToDeviceTargets = 1000;

boost::json::array Ids(const std::vector<std::string>& ids) {
  boost::json::array a;
  for (const auto& i : ids) a.emplace_back(i);
  return a;
}

Result<int> LimitParam(const HttpRequest& req) {
  auto l = QueryInt(req.Query("limit"), "limit", 1, 200);
  if (!l.ok()) return l.error();
  return static_cast<int>(l->value_or(50));
}

}  // namespace

ChatService::ChatService(Context& ctx)
    : ctx_(ctx),
      sent_total_(ctx.metrics.Counter("parley_messages_sent_total", "Messages stored")),
      send_seconds_(ctx.metrics.NewHistogram(
          "parley_chat_send_seconds",
          "A send (WebSocket or HTTP) from its request parsed to its result, the store's write "
          "included; the ack or response follows")),
      append_seconds_(ctx.metrics.NewHistogram(
          "parley_chat_append_seconds",
          "The message store's Append, called to its completion (queue, transaction, commit "
          "and, with Cassandra, the row's write)")) {}

void ChatService::Register(transport::Router& r) {
  auto bind = [this](Awaitable (ChatService::*fn)(HttpRequest&)) {
    return [this, fn](HttpRequest& req) { return (this->*fn)(req); };
  };
  r.Add("POST", "/v1/send-message", Auth::kRequired, bind(&ChatService::SendMessage));
  r.Add("GET", "/v1/get-messages", Auth::kRequired, bind(&ChatService::GetMessages));
  r.Add("GET", "/v1/get-chat-history", Auth::kRequired, bind(&ChatService::History));
  r.Add("GET", "/v1/conversations", Auth::kRequired, bind(&ChatService::Conversations));
  r.Add("POST", "/v1/mark-delivered", Auth::kRequired,
        [this](HttpRequest& q) { return MarkHttp(q, false); });
  r.Add("POST", "/v1/mark-read", Auth::kRequired,
        [this](HttpRequest& q) { return MarkHttp(q, true); });
  r.Add("GET", "/v1/message-status", Auth::kRequired, bind(&ChatService::MessageStatus));
  r.Add("POST", "/v1/send-to-device", Auth::kRequired, bind(&ChatService::SendToDevice));
}

void ChatService::PublishSent(const storage::AppendResult& r) {
  if (skip_publishes_.load(std::memory_order_relaxed) > 0 &&
      skip_publishes_.fetch_sub(1, std::memory_order_relaxed) > 0) {
    return;  // a test's crash between commit and publish
  }
  PublishMessageSent(ctx_.deliveries, ctx_.outbox, r.message, r.member_ids);
}

void ChatService::PublishReceipt(const std::string& user_id, const std::string& conversation_id,
                                 const storage::ReceiptChange& ch) {
  auto publish = [&](std::string_view type, const char* kind, int64_t seq) {
    ctx_.deliveries.Publish(type, conversation_id,
                            {{"conversation_id", conversation_id},
                             {"user_id", user_id},
                             {"kind", kind},
                             {"up_to_seq", seq},
                             {"at", ch.at},
                             {"recipient_ids", Ids(ch.recipient_ids)}},
                            ch.recipient_ids);
  };
  if (ch.delivered_advanced) publish(events::type::kMessageDelivered, "delivered", ch.delivered_seq);
  if (ch.read_advanced) publish(events::type::kMessageRead, "read", ch.read_seq);
}

boost::asio::awaitable<Result<storage::AppendResult>> ChatService::Send(
    const transport::Principal& who, const boost::json::object& body) {
  Histogram::Timer timed(send_seconds_);
  auto parsed = ParseSendRequest(body);
  if (!parsed.ok()) co_return parsed.error();
  SendRequest& in = *parsed;
  if (int64_t wait = ctx_.limits.send_per_user->Allow(who.user_id)) co_return RateLimited(wait);
  if (in.body.size() > ctx_.config.max_message_body_bytes) {
    co_return MakeError(ErrorCode::kPayloadTooLarge,
                        "body is larger than " +
                            std::to_string(ctx_.config.max_message_body_bytes) + " bytes");
  }
  std::string enc = in.encryption.value_or("none");
  if (enc == "none" && !ctx_.config.allow_plaintext) {
    co_return MakeError(ErrorCode::kInvalidArgument,
                        "this server accepts only end-to-end encrypted messages (e2ee-v1)");
  }
  if (!in.media_ids.empty() && media_access_) {
    // Naming media shares it with the conversation: only media the sender may see.
    auto allowed = co_await OnPool(ctx_.blocking, [&]() -> Result<bool> {
      for (const auto& id : in.media_ids) {
        auto ok = media_access_(who.user_id, id);
        if (!ok.ok()) return ok.error();
        if (!*ok) return false;
      }
      return true;
    });
    if (!allowed.ok()) co_return allowed.error();
    if (!*allowed) co_return MakeError(ErrorCode::kNotFound, "no such media");
  }
  storage::AppendRequest req;
  if (in.to_user_id) {
    auto peer = co_await OnPool(ctx_.blocking, [&] {
      return ctx_.auth_store.GetUser(*in.to_user_id);
    });
    if (!peer.ok()) co_return peer.error();
    req.conversation_id = DirectConversationId(who.user_id, *in.to_user_id);
    req.direct_pair = {who.user_id, *in.to_user_id};
  } else {
    req.conversation_id = *in.conversation_id;
  }
  const std::string conversation_id = req.conversation_id;
  req.sender_id = who.user_id;
  req.sender_device_id = who.device_id;
  req.client_msg_id = std::move(in.client_msg_id);
  req.content_type = in.content_type.value_or("text");
  req.encryption = enc;
  req.body = std::move(in.body);
  req.media_ids = std::move(in.media_ids);
  req.search_tokens = std::move(in.search_tokens);
  req.reply_to = std::move(in.reply_to);
  auto r = co_await AwaitDone<storage::AppendResult>([&](auto done) {
    ctx_.message_store.Append(std::move(req), [this, done, appended = std::chrono::steady_clock::now()](
                                                  Result<storage::AppendResult> res) {
      append_seconds_.ObserveSince(appended);
      if (res.ok() && !res->duplicate) {
        sent_total_.fetch_add(1, std::memory_order_relaxed);
        PublishSent(*res);  // on the store's completion thread, in commit order
      }
      done(std::move(res));
    });
  });
  if (!r.ok() && r.error().code == ErrorCode::kForbidden) {
    co_return co_await OnPool(ctx_.blocking, [&] {
      return HideFromStrangers(ctx_.message_store, r.error(), conversation_id, who.user_id);
    });
  }
  co_return r;
}

boost::asio::awaitable<Status> ChatService::MarkUpTo(const transport::Principal& who,
                                                     const std::string& conversation_id,
                                                     int64_t up_to_seq, bool read) {
  auto r = co_await AwaitDone<storage::ReceiptChange>([&](auto done) {
    ctx_.message_store.MarkReceipt(
        who.user_id, who.device_id, conversation_id, up_to_seq, read, NowMs(),
        [this, done, user = who.user_id, conversation_id](Result<storage::ReceiptChange> res) {
          if (res.ok()) PublishReceipt(user, conversation_id, *res);
          done(std::move(res));
        });
  });
  if (!r.ok() && r.error().code == ErrorCode::kForbidden) {
    co_return co_await OnPool(ctx_.blocking, [&] {
      return HideFromStrangers(ctx_.message_store, r.error(), conversation_id, who.user_id);
    });
  }
  if (!r.ok()) co_return r.error();
  co_return OkStatus();
}

boost::asio::awaitable<Status> ChatService::Mark(const transport::Principal& who,
                                                 const boost::json::object& body, bool read) {
  auto parsed = ParseMarkRequest(body);
  if (!parsed.ok()) co_return parsed.error();
  co_return co_await MarkUpTo(who, parsed->conversation_id, parsed->up_to_seq, read);
}

boost::asio::awaitable<Status> ChatService::AckToDevice(const transport::Principal& who,
                                                        int64_t up_to_id) {
  auto r = co_await AwaitDone<Unit>([&](auto done) {
    ctx_.message_store.AckToDevice(who.device_id, up_to_id, std::move(done));
  });
  if (!r.ok()) co_return r.error();
  co_return OkStatus();
}

ChatService::Awaitable ChatService::SendMessage(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  auto r = co_await Send(*req.principal, *body);
  if (!r.ok()) co_return ErrorResponse(r.error());
  const auto& m = r->message;
  co_return JsonResponse(r->duplicate ? 200 : 201, {{"message_id", m.message_id},
                                                    {"conversation_id", m.conversation_id},
                                                    {"seq", m.seq},
                                                    {"created_at", m.created_at}});
}

ChatService::Awaitable ChatService::GetMessages(HttpRequest& req) {
  auto limit = LimitParam(req);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  const auto& who = *req.principal;
  if (const std::string* after = req.Query("after"); after && !after->empty()) {
    auto cursor = DecodeCursor(*after);
    if (!cursor.ok()) co_return ErrorResponse(cursor.error());
    for (const auto& [conv, seq] : cursor->seqs) {
      Status st = co_await MarkUpTo(who, conv, seq, false);
      // A conversation the caller has left or never joined has nothing to mark; skip it.
      if (!st.ok() && st.error().code != ErrorCode::kForbidden &&
          st.error().code != ErrorCode::kNotFound)
        co_return ErrorResponse(st.error());
    }
    if (cursor->to_device > 0) {
      Status st = co_await AckToDevice(who, cursor->to_device);
      if (!st.ok()) co_return ErrorResponse(st.error());
    }
  }
  auto page = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.message_store.Pending(who.user_id, who.device_id, *limit, {}, 0);
  });
  if (!page.ok()) co_return ErrorResponse(page.error());
  PendingCursor next;
  boost::json::array messages, to_device;
  for (const auto& m : page->messages) {
    int64_t& s = next.seqs[m.conversation_id];
    s = std::max(s, m.seq);
    messages.push_back(MessageToJson(m));
  }
  for (const auto& t : page->to_device) {
    next.to_device = std::max(next.to_device, t.id);
    to_device.push_back(ToDeviceToJson(t));
  }
  co_return JsonResponse(200, {{"messages", std::move(messages)},
                               {"to_device", std::move(to_device)},
                               {"cursor", EncodeCursor(next)},
                               {"has_more", page->has_more}});
}

ChatService::Awaitable ChatService::History(HttpRequest& req) {
  const std::string* conv_text = req.Query("conversation_id");
  auto conv = conv_text ? NormalizeUuid(*conv_text) : std::nullopt;
  if (!conv) {
    co_return ErrorResponse(
        MakeError(ErrorCode::kInvalidArgument, "conversation_id is required and must be a UUID"));
  }
  auto limit = LimitParam(req);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  auto before = QueryInt(req.Query("before_seq"), "before_seq", 0, INT64_MAX);
  if (!before.ok()) co_return ErrorResponse(before.error());
  auto after = QueryInt(req.Query("after_seq"), "after_seq", 0, INT64_MAX);
  if (!after.ok()) co_return ErrorResponse(after.error());
  const std::string user = req.principal->user_id;
  auto page = co_await OnPool(
      ctx_.blocking,
      [&]() -> Result<std::pair<std::vector<storage::Message>, bool>> {
        const std::string& c = *conv;
        const auto& b = *before;
        const auto& a = *after;
        int l = *limit;
        auto m = MembershipOf(ctx_.message_store, c, user);  // a stranger: 404, as if absent
        if (!m.ok()) return m.error();
        int64_t max_seq = m->left_seq.value_or(INT64_MAX);
        bool ascending = a.has_value();  // with both bounds: oldest first between them
        return ctx_.message_store.History(c, m->joined_seq + 1, max_seq, a.value_or(0),
                                          b.value_or(INT64_MAX), ascending, l);
      });
  if (!page.ok()) co_return ErrorResponse(page.error());
  boost::json::array messages;
  for (const auto& m : page->first) messages.push_back(MessageToJson(m));
  co_return JsonResponse(200, {{"messages", std::move(messages)}, {"has_more", page->second}});
}

ChatService::Awaitable ChatService::Conversations(HttpRequest& req) {
  auto limit = LimitParam(req);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  auto list = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.message_store.ListConversations(req.principal->user_id, *limit);
  });
  if (!list.ok()) co_return ErrorResponse(list.error());
  boost::json::array out;
  for (const auto& c : *list) out.push_back(ConversationToJson(c));
  co_return JsonResponse(200, {{"conversations", std::move(out)}});
}

ChatService::Awaitable ChatService::MarkHttp(HttpRequest& req, bool read) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Status st = co_await Mark(*req.principal, *body, read);
  if (!st.ok()) co_return ErrorResponse(st.error());
  co_return transport::EmptyResponse(204);
}

ChatService::Awaitable ChatService::MessageStatus(HttpRequest& req) {
  const std::string* id_text = req.Query("message_id");
  auto id = id_text ? NormalizeUuid(*id_text) : std::nullopt;
  if (!id) {
    co_return ErrorResponse(
        MakeError(ErrorCode::kInvalidArgument, "message_id is required and must be a UUID"));
  }
  const std::string user = req.principal->user_id;
  auto status = co_await OnPool(ctx_.blocking,
                                [&]() -> Result<storage::MessageStatus> {
    auto s = ctx_.message_store.GetMessageStatus(*id);
    if (!s.ok()) return s.error();
    // Only someone who can see the message learns anything about it, even that it exists.
    auto m = ctx_.message_store.GetMembership(s->message.conversation_id, user);
    if (!m.ok() || s->message.seq <= m->joined_seq ||
        s->message.seq > m->left_seq.value_or(INT64_MAX)) {
      return MakeError(ErrorCode::kNotFound, "no such message");
    }
    return s;
  });
  if (!status.ok()) co_return ErrorResponse(status.error());
  bool all_delivered = !status->receipts.empty(), all_read = !status->receipts.empty();
  boost::json::array receipts;
  for (const auto& r : status->receipts) {
    all_delivered = all_delivered && r.delivered_at > 0;
    all_read = all_read && r.read_at > 0;
    boost::json::object o{{"user_id", r.user_id}};
    o["delivered_at"] = r.delivered_at > 0 ? boost::json::value(r.delivered_at) : nullptr;
    o["read_at"] = r.read_at > 0 ? boost::json::value(r.read_at) : nullptr;
    receipts.push_back(std::move(o));
  }
  const char* state = all_read ? "read" : all_delivered ? "delivered" : "sent";
  co_return JsonResponse(200, {{"message_id", *id},
                               {"conversation_id", status->message.conversation_id},
                               {"seq", status->message.seq},
                               {"status", state},
                               {"receipts", std::move(receipts)}});
}

std::optional<Error> ChatService::SpendToDeviceBudget(
    const std::string& user_id, const std::vector<storage::ToDeviceMessage>& out) {
  int64_t bytes = 0;
  for (const auto& m : out) bytes += static_cast<int64_t>(m.body.size());
  auto refuse = [](int64_t wait, std::string what, int64_t per_min) {
    return Error{ErrorCode::kRateLimited,
                 "send-to-device budget spent: at most " + std::to_string(per_min) + " " +
                     std::move(what) + " a minute per user; retry after " +
                     std::to_string(wait) + " s",
                 wait};
  };
  const auto& limits = ctx_.limits;
  if (int64_t wait = limits.to_device_per_user->Take(user_id, static_cast<double>(out.size())))
    return refuse(wait, "messages (target devices)", ctx_.config.rate_to_device_per_min);
  if (int64_t wait = limits.to_device_bytes_per_user->Take(user_id, static_cast<double>(bytes)))
    return refuse(wait, "body bytes", ctx_.config.rate_to_device_bytes_per_min);
  return std::nullopt;
}

ChatService::Awaitable ChatService::SendToDevice(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  const auto* users = f.Obj("messages", true);
  if (!f.ok()) co_return ErrorResponse(f.error());
  std::vector<storage::ToDeviceMessage> out;
  int64_t now = NowMs();
  for (const auto& [user_key, devices] : *users) {
    auto user = NormalizeUuid(user_key);
    if (!user || !devices.is_object()) {
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument,
                                        "messages must map user ids to {device_id: body}"));
    }
    for (const auto& [device_key, msg] : devices.as_object()) {
      auto device = NormalizeUuid(device_key);
      if (!device || !msg.is_string()) {
        co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument,
                                          "messages must map device ids to string bodies"));
      }
      if (msg.as_string().size() > ctx_.config.max_message_body_bytes) {
        co_return ErrorResponse(MakeError(ErrorCode::kPayloadTooLarge, "a body is too large"));
      }
      if (out.size() >= kMaxToDeviceTargets) {
        co_return ErrorResponse(
            MakeError(ErrorCode::kInvalidArgument, "at most 1000 devices per request"));
      }
      out.push_back({0, *device, *user, req.principal->user_id, req.principal->device_id,
                     std::string(msg.as_string()), now});
    }
  }
  size_t n = out.size();
  if (auto refused = SpendToDeviceBudget(req.principal->user_id, out)) {
    co_return ErrorResponse(*refused);
  }
  const storage::ToDeviceCap cap{ctx_.config.max_pending_to_device,
                                 ctx_.config.max_pending_to_device_bytes};
  auto r = co_await AwaitDone<std::vector<storage::ToDeviceMessage>>([&](auto done) {
    ctx_.message_store.EnqueueToDevice(
        std::move(out), cap, [this, done](Result<std::vector<storage::ToDeviceMessage>> res) {
          if (res.ok()) {
            for (const auto& m : *res) {
              boost::json::object payload = ToDeviceToJson(m);
              payload["to_user_id"] = m.to_user_id;
              ctx_.deliveries.Publish(events::type::kToDevice, m.to_user_id, std::move(payload),
                                      {m.to_user_id});
            }
          }
          done(std::move(res));
        });
  });
  if (!r.ok()) co_return ErrorResponse(r.error());
  co_return JsonResponse(202, {{"queued", n}});
}

}  // namespace parley::services
