// `parley chat TARGET`: live incoming messages, receipts, presence and typing lines; each stdin
// line is sent. Ends at end of input (Ctrl-D).
#include <boost/json.hpp>

#include <iostream>
#include <mutex>

#include "cli/commands.h"

namespace parley::cli {

namespace json = boost::json;
using Kind = sdk::ClientEvent::Kind;

int CmdChat(Ctx& c) {
  auto t = c.client.Resolve(c.args.target);
  if (!t.ok()) return c.out.Fail(t.error());
  const std::string conv = t->conversation_id;
  std::mutex print_mu;  // events arrive on the connection's thread
  sdk::Client& client = c.client;
  const Output& out = c.out;

  auto on_event = [&](const sdk::ClientEvent& e) {
    std::lock_guard lock(print_mu);
    switch (e.kind) {
      case Kind::kMessage: {
        bool here = e.message.conversation_id == conv;
        json::object o = out.MessageJson(client, e.message);
        std::string line = out.MessageLine(client, e.message);
        if (!here) line = "(elsewhere) " + line;
        out.Emit(line, o);
        if (here && e.message.sender_id != client.api().user_id())
          (void)client.MarkRead(conv, e.message.seq);  // shown: read
        break;
      }
      case Kind::kReceipt:
        if (e.conversation_id != conv || e.user_id == client.api().user_id()) break;
        out.Emit("  (" + e.receipt_kind + " by " + client.UserName(e.user_id) + " up to #" +
                     std::to_string(e.up_to_seq) + ")",
                 json::object{{"type", "receipt"}, {"conversation_id", e.conversation_id},
                              {"user_id", e.user_id}, {"kind", e.receipt_kind},
                              {"up_to_seq", e.up_to_seq}, {"at", e.at}});
        break;
      case Kind::kPresence:
        out.Emit("* " + client.UserName(e.presence.user_id) + " is " + e.presence.status +
                     (e.presence.text.empty() ? "" : " (" + e.presence.text + ")"),
                 json::object{{"type", "presence"}, {"user_id", e.presence.user_id},
                              {"status", e.presence.status}, {"text", e.presence.text}});
        break;
      case Kind::kTyping:
        if (e.conversation_id != conv) break;
        out.Emit("* " + client.UserName(e.user_id) + " is typing…",
                 json::object{{"type", "typing"}, {"conversation_id", e.conversation_id},
                              {"user_id", e.user_id}});
        break;
      case Kind::kGroup:
        out.Emit("* group " + e.group.name + " " + e.group_event,
                 json::object{{"type", "group_event"}, {"event", e.group_event},
                              {"group_id", e.group.group_id}});
        break;
      case Kind::kKeyChange:
        out.Emit("* WARNING: the keys of " + client.UserName(e.user_id) +
                     " changed; run `parley verify " + client.UserName(e.user_id) + "`",
                 json::object{{"type", "key_change"}, {"user_id", e.user_id},
                              {"device_id", e.key_change.device_id}});
        break;
      case Kind::kConnection:
        out.Emit(e.connected ? "* connected" : "* disconnected (" + e.reason + "), reconnecting",
                 json::object{{"type", "connection"}, {"connected", e.connected},
                              {"reason", e.reason}});
        break;
    }
  };

  // What arrived while away, then the last few of this conversation.
  auto synced = client.Sync();
  if (!synced.ok()) return out.Fail(synced.error());
  auto h = client.History(c.args.target, 10);
  if (h.ok())
    for (const auto& m : *h) out.EmitMessage(client, m);
  if (h.ok() && !h->empty()) (void)client.MarkRead(conv, h->back().seq);
  client.SetEventHandler(on_event);
  if (auto r = client.StartLive(); !r.ok()) return out.Fail(r.error());
  if (!out.json())
    out.Emit("Chatting with " + t->title + ". Type a line and Enter to send; Ctrl-D ends.", {});

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    auto m = client.SendText(c.args.target, line);
    std::lock_guard lock(print_mu);
    if (!m.ok()) {
      out.Fail(m.error());  // stays in the outbox if it was queued; the next send retries it
      continue;
    }
    out.Emit("[" + FormatTime(m->created_at) + "] you: " + line + "  (#" +
                 std::to_string(m->seq) + " sent)",
             out.MessageJson(client, *m));
  }
  client.StopLive();
  client.SetEventHandler(nullptr);
  return 0;
}

}  // namespace parley::cli
