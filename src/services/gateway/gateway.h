// Gateway: the WebSocket endpoint /v1/ws. Authenticates the upgrade, runs a WsSession per
// device, and turns events into frames (the live events of message-events: those addressed to
// this node when deliveries are routed, else all of them; services/delivery): MESSAGE_SENT →
// `message` to member devices (not the sending one), MESSAGE_DELIVERED/READ → `receipt`,
// TO_DEVICE_SENT → `to_device`, USER_STATUS_CHANGED → `presence` to contacts,
// GROUP_CREATED/UPDATED → `group` to the group's members and those a change removed, and typing
// relayed to the other members.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/histogram.h"
#include "services/auth/auth_service.h"
#include "services/chat/chat_service.h"
#include "services/context.h"
#include "services/gateway/hub.h"
#include "services/presence/presence_service.h"

namespace parley::services {

class Gateway {
 public:
  Gateway(Context& ctx, AuthService& auth, ChatService& chat, PresenceService& presence);

  // Subscribes to the bus. Call once before serving.
  void Start();
  // The transport's upgrade handler for /v1/ws.
  void Upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> req,
               std::string remote);
  // Closes every session with 1012 (service restart) once its in-flight requests are answered
  // (WsSession::Drain). Draining() counts the sessions whose answers are not all written yet.
  void CloseAll();
  int Draining() const { return draining_.load(); }

  Context& ctx() { return ctx_; }
  ChatService& chat() { return chat_; }
  // Whether live events reach only the nodes holding their recipients (DeliveryRouter): sessions
  // then read their pending messages once more kSettleAfterConnect after connecting.
  bool routed() const;
  // A session of the user opened here: it is in the hub; tells presence (and so the connection
  // registry) and the delivery router. Call on the session's thread.
  void SessionOpened(const transport::Principal& who);
  // A session of the user closed here: it left the hub.
  void SessionClosed(const transport::Principal& who);
  PresenceService& presence() { return presence_; }
  Hub& hub() { return hub_; }
  // Whether the device has an open WebSocket on this node. Thread-safe.
  bool DeviceOnline(const std::string& user_id, const std::string& device_id) const;
  // Relays a typing frame to the conversation's other members, on every node; nothing if `who`
  // is not a member, if they spent their typing budget in it (rate_typing_per_min), or if it
  // has more than typing_max_members members. Never answers: what is not relayed is dropped.
  void RelayTyping(const transport::Principal& who, const std::string& conversation_id);
  // Sessions record how long a conversation waited above a gap (ws_session_order.cc).
  Histogram& gap_seconds() { return gap_seconds_; }

 private:
  // Returns how many sessions of this node it reached (0: an event for users not held here).
  size_t OnMessageEvent(const events::EventPtr& e);
  void OnStatusEvent(const events::EventPtr& e);
  void OnGroupEvent(const events::EventPtr& e);

  Context& ctx_;
  AuthService& auth_;
  ChatService& chat_;
  PresenceService& presence_;
  Hub hub_;
  std::atomic<uint64_t>& deliveries_;
  std::atomic<uint64_t>& live_events_;    // message-events kinds read by this gateway
  std::atomic<uint64_t>& unheld_events_;  // … of which no recipient had a session here
  Histogram& event_age_seconds_;  // a message's created_at to its event reaching this gateway
  Histogram& gap_seconds_;
  std::atomic<int> draining_{0};
};

}  // namespace parley::services
