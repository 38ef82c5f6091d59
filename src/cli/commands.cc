// The one-shot `parley` commands (chat is in chat.cc).
#include "cli/commands.h"

#include <boost/json.hpp>

#include <algorithm>
#include <map>

namespace parley::cli {

namespace json = boost::json;

namespace {
template <typename T>
bool Check(const Result<T>& r, Ctx& c, int* code) {
  if (r.ok()) return true;
  *code = c.out.Fail(r.error());
  return false;
}

json::object AccountJson(const sdk::Account& a) {
  return json::object{{"type", "account"},     {"user_id", a.user_id},
                      {"username", a.username}, {"device_id", a.device_id},
                      {"server", a.server_url}};
}

// Messages printed are shown: mark each conversation read up to the newest of them.
void MarkShown(Ctx& c, const std::vector<sdk::LocalMessage>& shown) {
  std::map<std::string, int64_t> upto;
  for (const auto& m : shown) upto[m.conversation_id] = std::max(upto[m.conversation_id], m.seq);
  for (const auto& [conv, seq] : upto) (void)c.client.MarkRead(conv, seq);
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}
}  // namespace

int CmdSignup(Ctx& c) {
  std::string pw = ReadPassword(c.args.password, "Password for " + c.args.user + ": ");
  int code = 0;
  auto u = c.client.Signup(c.args.user, pw, c.args.display_name);
  if (!Check(u, c, &code)) return code;
  auto a = c.client.WhoAmI();
  if (!Check(a, c, &code)) return code;
  c.out.Emit("Signed up and logged in as " + a->username + " (device " + a->device_id + ")",
             AccountJson(*a));
  return 0;
}

int CmdLogin(Ctx& c) {
  std::string pw = ReadPassword(c.args.password, "Password for " + c.args.user + ": ");
  int code = 0;
  auto a = c.client.Login(c.args.user, pw);
  if (!Check(a, c, &code)) return code;
  c.out.Emit("Logged in as " + a->username + " (device " + a->device_id + ")", AccountJson(*a));
  return 0;
}

int CmdLogout(Ctx& c) {
  int code = 0;
  if (!Check(c.client.Logout(), c, &code)) return code;
  c.out.Emit("Logged out", json::object{{"type", "logout"}, {"ok", true}});
  return 0;
}

int CmdWhoami(Ctx& c) {
  int code = 0;
  auto a = c.client.WhoAmI();
  if (!Check(a, c, &code)) return code;
  c.out.Emit(a->username + " (user " + a->user_id + ", device " + a->device_id + ") on " +
                 a->server_url,
             AccountJson(*a));
  return 0;
}

int CmdSend(Ctx& c) {
  int code = 0;
  auto m = c.client.SendText(c.args.target, JoinWords(c.args.words));
  if (!Check(m, c, &code)) return code;
  c.out.Emit("sent (message " + m->message_id + ")", c.out.MessageJson(c.client, *m));
  return 0;
}

int CmdSendFile(Ctx& c) {
  int code = 0;
  auto m = c.client.SendFile(c.args.target, c.args.path);
  if (!Check(m, c, &code)) return code;
  c.out.Emit("sent file (message " + m->message_id + ")", c.out.MessageJson(c.client, *m));
  return 0;
}

int CmdGetFile(Ctx& c) {
  int code = 0;
  if (auto known = c.client.store().GetMessage(c.args.message_id); known.ok() && !*known)
    (void)c.client.Sync();  // it may not have been fetched yet
  auto path = c.client.GetFile(c.args.message_id, c.args.out);
  if (!Check(path, c, &code)) return code;
  c.out.Emit("saved " + *path, json::object{{"type", "file"}, {"path", *path},
                                             {"message_id", c.args.message_id}});
  return 0;
}

int CmdSync(Ctx& c) {
  int code = 0;
  auto r = c.client.Sync();
  if (!Check(r, c, &code)) return code;
  for (const auto& m : r->messages) c.out.EmitMessage(c.client, m);
  MarkShown(c, r->messages);
  if (!c.out.json() && r->messages.empty()) c.out.Emit("no new messages", {});
  if (c.out.json())
    c.out.Emit("", json::object{{"type", "sync"},
                                {"new_messages", r->messages.size()},
                                {"pending", r->pending},
                                {"sent_from_outbox", r->sent_from_outbox}});
  else if (r->pending > 0)
    c.out.Emit(std::to_string(r->pending) + " message(s) wait for their sender's key", {});
  return 0;
}

int CmdHistory(Ctx& c) {
  int code = 0;
  auto s = c.client.Sync();  // best effort: what is pending first, so it can be decrypted
  if (!s.ok() && s.error().code != ErrorCode::kUnavailable) return c.out.Fail(s.error());
  auto h = c.client.History(c.args.target, c.args.limit);
  if (!Check(h, c, &code)) return code;
  for (const auto& m : *h) c.out.EmitMessage(c.client, m);
  MarkShown(c, *h);
  return 0;
}

int CmdSearch(Ctx& c) {
  int code = 0;
  (void)c.client.Sync();  // also brings the sender keys server hits need
  auto r = c.args.search_server
               ? c.client.SearchServer(c.args.text, c.args.search_in, c.args.limit)
               : c.client.Search(c.args.text, c.args.search_in, c.args.limit);
  if (!Check(r, c, &code)) return code;
  for (const auto& m : *r) c.out.EmitMessage(c.client, m);
  if (!c.out.json() && r->empty()) c.out.Emit("no matches", {});
  return 0;
}

int CmdSearchOptIn(Ctx& c) {
  int code = 0;
  const bool on = c.args.on_off == "on";
  // A search key already sent to this device is adopted first, rather than a competing one made.
  if (on) (void)c.client.Sync();
  auto t = c.client.SetServerSearch(c.args.target, on);
  if (!Check(t, c, &code)) return code;
  const std::string leaks =
      on ? "messages you send here now carry search tokens: the server learns which messages "
           "share words, word counts and frequencies, and what you search for (never the words "
           "or text; docs/protocol.md §9)"
         : "messages you send here carry no search tokens any more (tokens already sent stay "
           "on the server; docs/protocol.md §9)";
  c.out.Emit("server search " + c.args.on_off + " for " + t->title + ": " + leaks,
             json::object{{"type", "search_opt_in"},
                          {"conversation_id", t->conversation_id},
                          {"title", t->title},
                          {"enabled", on},
                          {"leaks", leaks}});
  return 0;
}

int CmdConversations(Ctx& c) {
  int code = 0;
  auto r = c.client.Conversations();
  if (!Check(r, c, &code)) return code;
  for (const auto& conv : *r) {
    std::string id = conv.type == "group" ? conv.group_id : conv.peer_user_id;
    c.out.Emit((conv.type == "group" ? "group  " : "direct ") + conv.title + "  " +
                   (conv.type == "group" ? conv.group_id : "") +
                   (conv.unread_count
                        ? "  (" + std::to_string(conv.unread_count) + " unread)"
                        : ""),
               json::object{{"type", "conversation"},
                            {"conversation_id", conv.conversation_id},
                            {"kind", conv.type},
                            {"title", conv.title},
                            {"group_id", conv.group_id},
                            {"peer_user_id", conv.peer_user_id},
                            {"last_seq", conv.last_seq},
                            {"unread_count", conv.unread_count},
                            {"last_activity_at", conv.last_activity_at}});
  }
  return 0;
}

namespace {
int EmitGroup(Ctx& c, const Result<sdk::Group>& g) {
  int code = 0;
  if (!Check(g, c, &code)) return code;
  c.out.Emit(c.out.GroupText(c.client, *g), c.out.GroupJson(c.client, *g));
  return 0;
}
}  // namespace

int CmdGroupsCreate(Ctx& c) {
  return EmitGroup(c, c.client.CreateGroup(c.args.name, c.args.members));
}
int CmdGroupsAdd(Ctx& c) {
  return EmitGroup(c, c.client.AddMember(c.args.group, c.args.user, c.args.role));
}
int CmdGroupsRemove(Ctx& c) {
  return EmitGroup(c, c.client.RemoveMember(c.args.group, c.args.user));
}
int CmdGroupsRole(Ctx& c) {
  return EmitGroup(c, c.client.SetRole(c.args.group, c.args.user, c.args.role));
}
int CmdGroupsRename(Ctx& c) { return EmitGroup(c, c.client.Rename(c.args.group, c.args.name)); }
int CmdGroupsLeave(Ctx& c) {
  int code = 0;
  auto g = c.client.Leave(c.args.group);
  if (!Check(g, c, &code)) return code;
  c.out.Emit("left " + g->name, json::object{{"type", "left"}, {"group_id", g->group_id}});
  return 0;
}
int CmdGroupsShow(Ctx& c) { return EmitGroup(c, c.client.ShowGroup(c.args.group)); }

int CmdGroupsList(Ctx& c) {
  int code = 0;
  auto r = c.client.ListGroups();
  if (!Check(r, c, &code)) return code;
  for (const auto& g : *r)
    c.out.Emit(g.group_id + "  " + g.title,
               json::object{{"type", "group"}, {"group_id", g.group_id},
                            {"conversation_id", g.conversation_id}, {"name", g.title},
                            {"unread_count", g.unread_count}});
  return 0;
}

int CmdDevices(Ctx& c) {
  int code = 0;
  auto r = c.client.ListDevices();
  if (!Check(r, c, &code)) return code;
  for (const auto& d : *r)
    c.out.Emit(d.device_id + "  " + d.device_name + (d.current ? "  (this device)" : "") +
                   "  last seen " + (d.last_seen_at ? FormatTime(d.last_seen_at) : "never"),
               json::object{{"type", "device"}, {"device_id", d.device_id},
                            {"device_name", d.device_name}, {"current", d.current},
                            {"created_at", d.created_at}, {"last_seen_at", d.last_seen_at}});
  return 0;
}

int CmdDevicesRevoke(Ctx& c) {
  int code = 0;
  if (!Check(c.client.RevokeDevice(c.args.device_id), c, &code)) return code;
  c.out.Emit("revoked " + c.args.device_id,
             json::object{{"type", "revoked"}, {"device_id", c.args.device_id}});
  return 0;
}

int CmdVerify(Ctx& c) {
  int code = 0;
  auto s = c.client.SafetyNumber(c.args.user);
  if (!Check(s, c, &code)) return code;
  std::string grouped;
  for (size_t i = 0; i < s->number.size(); i += 5)
    grouped += s->number.substr(i, 5) + ((i / 5) % 4 == 3 ? "\n" : " ");
  std::string human = "Safety number with " + c.args.user + ":\n" + grouped;
  if (s->key_changed)
    human += "WARNING: " + c.args.user + "'s keys changed since you last verified. Compare the "
             "number in person, then run `parley verify " + c.args.user + " --mark-verified`.";
  else
    human += "Compare it with " + c.args.user + "'s (in person or on a call): equal numbers mean "
             "no one is in the middle.";
  if (c.args.mark_verified) {
    if (!Check(c.client.MarkVerified(c.args.user), c, &code)) return code;
    human += "\nMarked as verified.";
  }
  c.out.Emit(human, json::object{{"type", "safety_number"}, {"user", c.args.user},
                                  {"safety_number", s->number}, {"key_changed", s->key_changed},
                                  {"marked_verified", c.args.mark_verified}});
  return 0;
}

int CmdStatus(Ctx& c) {
  int code = 0;
  if (!c.args.status.empty()) {
    if (!Check(c.client.SetStatus(c.args.status, c.args.status_text), c, &code)) return code;
  }
  auto r = c.client.GetStatus(c.args.of);
  if (!Check(r, c, &code)) return code;
  for (const auto& p : *r)
    c.out.Emit(c.client.UserName(p.user_id) + "  " + p.status +
                   (p.text.empty() ? "" : "  \"" + p.text + "\"") +
                   (p.status == "offline" && p.last_seen_at
                        ? "  last seen " + FormatTime(p.last_seen_at) : ""),
               json::object{{"type", "presence"}, {"user_id", p.user_id},
                            {"username", c.client.UserName(p.user_id)}, {"status", p.status},
                            {"text", p.text}, {"last_seen_at", p.last_seen_at}});
  return 0;
}

}  // namespace parley::cli
