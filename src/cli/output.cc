#include "cli/output.h"

#include <boost/json.hpp>

#include <ctime>
#include <iostream>

#include "common/error_map.h"
#include "sdk/client/client_payload.h"

namespace parley::cli {

namespace json = boost::json;

std::string FormatTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void Output::Emit(const std::string& human, const json::object& obj) const {
  if (json_) std::cout << json::serialize(obj) << "\n";
  else if (!human.empty()) std::cout << human << "\n";
  std::cout.flush();
}

int Output::Fail(const Error& e) const {
  if (json_) {
    json::object err{{"code", std::string(CodeName(e.code))}, {"message", e.message}};
    std::cerr << json::serialize(json::object{{"error", err}}) << "\n";
  } else {
    std::cerr << "parley: " << e.message << "\n";
  }
  return ExitCodeOf(e.code);
}

namespace {
// A system message's body ({"event":…}) as a sentence.
std::string SystemText(sdk::Client& c, const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return body;
  const auto& o = v.as_object();
  std::string ev = sdk::JStr(o, "event");
  std::string actor = c.UserName(sdk::JStr(o, "actor"));
  std::string user = c.UserName(sdk::JStr(o, "user_id"));
  if (ev == "group_created") return actor + " created the group " + sdk::JStr(o, "name");
  if (ev == "member_added") return actor + " added " + user;
  if (ev == "member_removed") return actor + " removed " + user;
  if (ev == "member_left") return user + " left";
  if (ev == "role_changed") return actor + " made " + user + " " + sdk::JStr(o, "role");
  if (ev == "group_renamed") return actor + " renamed the group to " + sdk::JStr(o, "name");
  return body;
}
}  // namespace

json::object Output::MessageJson(sdk::Client& c, const sdk::LocalMessage& m) const {
  json::object o{{"type", "message"},
                 {"message_id", m.message_id},
                 {"conversation_id", m.conversation_id},
                 {"seq", m.seq},
                 {"sender_id", m.sender_id},
                 {"sender", c.UserName(m.sender_id)},
                 {"sender_device_id", m.sender_device_id},
                 {"created_at", m.created_at},
                 {"content_type", m.content_type},
                 {"encryption", m.encryption},
                 {"status", m.status},
                 {"pending_decrypt", m.pending_decrypt}};
  if (m.plaintext) o["text"] = *m.plaintext;
  else o["text"] = nullptr;
  if (auto d = sdk::ParseMediaDescriptor(m.media_json))
    o["file"] = json::object{{"name", d->file_name}, {"size", d->size},
                             {"media_type", d->media_type}, {"media_id", d->media_id}};
  return o;
}

std::string Output::MessageLine(sdk::Client& c, const sdk::LocalMessage& m) const {
  std::string head = "[" + FormatTime(m.created_at) + "] ";
  if (m.content_type == "system") return head + "* " + SystemText(c, m.plaintext.value_or(""));
  std::string who = c.UserName(m.sender_id);
  if (m.pending_decrypt) return head + who + ": [waiting for the sender's key]";
  if (!m.plaintext) return head + who + ": [cannot decrypt this message]";
  if (auto d = sdk::ParseMediaDescriptor(m.media_json))
    return head + who + ": [file " + d->file_name + ", " + std::to_string(d->size) + " bytes, " +
           d->media_type + "] (parley get-file " + m.message_id + ")";
  // Sent without end-to-end encryption: the server could read it, and the line says so.
  if (m.encryption == "none") return head + who + ": [not encrypted] " + *m.plaintext;
  return head + who + ": " + *m.plaintext;
}

json::object Output::GroupJson(sdk::Client& c, const sdk::Group& g) const {
  json::array members;
  for (const auto& m : g.members)
    members.push_back(json::object{{"user_id", m.user_id}, {"username", c.UserName(m.user_id)},
                                   {"role", m.role}, {"joined_at", m.joined_at}});
  return json::object{{"type", "group"},          {"group_id", g.group_id},
                      {"conversation_id", g.conversation_id}, {"name", g.name},
                      {"creator_id", g.creator_id}, {"members", members}};
}

std::string Output::GroupText(sdk::Client& c, const sdk::Group& g) const {
  std::string s = g.name + "  (group " + g.group_id + ")";
  for (const auto& m : g.members) s += "\n  " + c.UserName(m.user_id) + "  " + m.role;
  return s;
}

}  // namespace parley::cli
