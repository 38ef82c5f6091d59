#include "sdk/api/api_types.h"

#include <boost/json/array.hpp>

namespace parley::sdk {

namespace json = boost::json;

std::string JStr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t JInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

bool JBool(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

const json::object* JObj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::vector<std::string> JStrList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->get_array())
    if (e.is_string()) out.emplace_back(e.get_string());
  return out;
}

User UserFromJson(const json::object& o) {
  return User{JStr(o, "user_id"), JStr(o, "username"), JStr(o, "display_name"),
              JStr(o, "profile_pic_url"), JInt(o, "created_at")};
}

Device DeviceFromJson(const json::object& o) {
  return Device{JStr(o, "device_id"), JStr(o, "device_name"), JInt(o, "created_at"),
                JInt(o, "last_seen_at"), JBool(o, "current")};
}

Message MessageFromJson(const json::object& o) {
  Message m;
  m.message_id = JStr(o, "message_id");
  m.conversation_id = JStr(o, "conversation_id");
  m.seq = JInt(o, "seq");
  m.sender_id = JStr(o, "sender_id");
  m.sender_device_id = JStr(o, "sender_device_id");
  m.created_at = JInt(o, "created_at");
  m.content_type = JStr(o, "content_type");
  m.encryption = JStr(o, "encryption");
  m.body = JStr(o, "body");
  m.media_ids = JStrList(o, "media_ids");
  m.search_tokens = JStrList(o, "search_tokens");
  m.reply_to = JStr(o, "reply_to");
  return m;
}

ToDeviceMessage ToDeviceFromJson(const json::object& o) {
  return ToDeviceMessage{JInt(o, "id"),        JStr(o, "to_device_id"),
                         JStr(o, "sender_id"), JStr(o, "sender_device_id"),
                         JStr(o, "body"),      JInt(o, "created_at")};
}

Conversation ConversationFromJson(const json::object& o) {
  Conversation c;
  c.conversation_id = JStr(o, "conversation_id");
  c.type = JStr(o, "type");
  c.title = JStr(o, "title");
  c.peer_user_id = JStr(o, "peer_user_id");
  c.group_id = JStr(o, "group_id");
  if (const auto* m = JObj(o, "last_message")) c.last_message = MessageFromJson(*m);
  c.last_seq = JInt(o, "last_seq");
  c.read_seq = JInt(o, "read_seq");
  c.unread_count = JInt(o, "unread_count");
  c.last_activity_at = JInt(o, "last_activity_at");
  c.member = JBool(o, "member", true);
  return c;
}

Group GroupFromJson(const json::object& o) {
  Group g;
  g.group_id = JStr(o, "group_id");
  g.conversation_id = JStr(o, "conversation_id");
  g.name = JStr(o, "name");
  g.creator_id = JStr(o, "creator_id");
  g.created_at = JInt(o, "created_at");
  g.updated_at = JInt(o, "updated_at");
  if (const auto* v = o.if_contains("members"); v && v->is_array()) {
    for (const auto& e : v->get_array()) {
      if (!e.is_object()) continue;
      const auto& m = e.get_object();
      g.members.push_back(GroupMember{JStr(m, "user_id"), JStr(m, "role"), JInt(m, "joined_at")});
    }
  }
  return g;
}

Media MediaFromJson(const json::object& o) {
  Media m;
  m.media_id = JStr(o, "media_id");
  m.media_type = JStr(o, "media_type");
  m.sha256 = JStr(o, "sha256");
  m.url = JStr(o, "url");
  m.uploader_id = JStr(o, "uploader_id");
  m.filename = JStr(o, "filename");
  if (const auto* t = JObj(o, "thumbnail")) m.thumbnail_state = JStr(*t, "state");
  m.size = JInt(o, "size");
  m.url_expires_at = JInt(o, "url_expires_at");
  m.created_at = JInt(o, "created_at");
  return m;
}

PresenceStatus PresenceFromJson(const json::object& o) {
  return PresenceStatus{JStr(o, "user_id"), JStr(o, "status"), JStr(o, "text"),
                        JInt(o, "last_seen_at")};
}

PrekeyBundle BundleFromJson(const std::string& user_id, const json::object& o) {
  PrekeyBundle b;
  b.user_id = user_id;
  b.device_id = JStr(o, "device_id");
  b.identity_key = JStr(o, "identity_key");
  b.signing_key = JStr(o, "signing_key");
  if (const auto* s = JObj(o, "signed_prekey")) {
    b.signed_prekey_id = JInt(*s, "key_id");
    b.signed_prekey = JStr(*s, "public_key");
    b.signed_prekey_signature = JStr(*s, "signature");
  }
  if (const auto* k = JObj(o, "one_time_prekey")) {
    b.one_time_prekey_id = JInt(*k, "key_id");
    b.one_time_prekey = JStr(*k, "public_key");
  }
  return b;
}

SendResult SendResultFromJson(const json::object& o) {
  return SendResult{JStr(o, "message_id"), JStr(o, "conversation_id"), JInt(o, "seq"),
                    JInt(o, "created_at"), JBool(o, "duplicate")};
}

namespace {
json::array StrArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
}  // namespace

json::object ToJson(const OutgoingMessage& m) {
  json::object o;
  if (!m.conversation_id.empty()) o["conversation_id"] = m.conversation_id;
  if (!m.to_user_id.empty()) o["to_user_id"] = m.to_user_id;
  o["client_msg_id"] = m.client_msg_id;
  o["body"] = m.body;
  if (!m.content_type.empty()) o["content_type"] = m.content_type;
  if (!m.encryption.empty()) o["encryption"] = m.encryption;
  if (!m.media_ids.empty()) o["media_ids"] = StrArray(m.media_ids);
  if (!m.search_tokens.empty()) o["search_tokens"] = StrArray(m.search_tokens);
  if (!m.reply_to.empty()) o["reply_to"] = m.reply_to;
  return o;
}

json::object ToJson(const PublishedKeys& k) {
  json::array otks;
  for (const auto& [id, pub] : k.one_time_prekeys)
    otks.push_back(json::object{{"key_id", id}, {"public_key", pub}});
  return json::object{{"identity_key", k.identity_key},
                      {"signing_key", k.signing_key},
                      {"signed_prekey",
                       {{"key_id", k.signed_prekey_id},
                        {"public_key", k.signed_prekey},
                        {"signature", k.signed_prekey_signature}}},
                      {"one_time_prekeys", std::move(otks)}};
}

}  // namespace parley::sdk
