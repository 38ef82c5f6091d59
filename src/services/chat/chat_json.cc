#include "services/chat/chat_json.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "common/ids.h"

namespace parley::services {

boost::json::object MessageToJson(const storage::Message& m) {
  boost::json::array media;
  for (const auto& id : m.media_ids) media.emplace_back(id);
  boost::json::object o{{"message_id", m.message_id},
                        {"conversation_id", m.conversation_id},
                        {"seq", m.seq},
                        {"sender_id", m.sender_id},
                        {"sender_device_id", m.sender_device_id},
                        {"created_at", m.created_at},
                        {"content_type", m.content_type},
                        {"encryption", m.encryption},
                        {"body", m.body},
                        {"media_ids", std::move(media)}};
  if (m.search_tokens) {
    boost::json::array t;
    for (const auto& s : *m.search_tokens) t.emplace_back(s);
    o["search_tokens"] = std::move(t);
  }
  if (m.reply_to) {
    o["reply_to"] = *m.reply_to;
  } else {
    o["reply_to"] = nullptr;
  }
  return o;
}

boost::json::object ToDeviceToJson(const storage::ToDeviceMessage& m) {
  return {{"id", m.id},
          {"to_device_id", m.to_device_id},
          {"sender_id", m.sender_id},
          {"sender_device_id", m.sender_device_id},
          {"body", m.body},
          {"created_at", m.created_at}};
}

boost::json::object ConversationToJson(const storage::ConversationSummary& c) {
  boost::json::object o{{"conversation_id", c.conversation.conversation_id},
                        {"type", c.conversation.type},
                        {"title", c.conversation.title},
                        {"last_seq", c.membership.visible_max(c.conversation.last_seq)},
                        {"read_seq", c.membership.read_seq},
                        {"unread_count", c.unread_count},
                        {"last_activity_at",
                         c.last_message ? c.last_message->created_at : c.conversation.created_at},
                        {"member", c.membership.active()}};
  if (!c.peer_user_id.empty()) o["peer_user_id"] = c.peer_user_id;
  if (!c.conversation.group_id.empty()) o["group_id"] = c.conversation.group_id;
  if (c.last_message) {
    o["last_message"] = MessageToJson(*c.last_message);
  } else {
    o["last_message"] = nullptr;
  }
  return o;
}

std::string EncodeCursor(const PendingCursor& c) {
  boost::json::object seqs;
  for (const auto& [conv, seq] : c.seqs) seqs[conv] = seq;
  boost::json::object o{{"c", std::move(seqs)}, {"t", c.to_device}};
  return Base64UrlEncode(boost::json::serialize(o));
}

Result<PendingCursor> DecodeCursor(std::string_view text) {
  auto bad = [] { return MakeError(ErrorCode::kInvalidArgument, "after is not a valid cursor"); };
  if (text.size() > 64 * 1024) return bad();
  auto raw = Base64UrlDecode(text);
  if (!raw) return bad();
  boost::system::error_code ec;
  auto v = boost::json::parse(*raw, ec);
  if (ec || !v.is_object()) return bad();
  const auto& o = v.as_object();
  const auto* c = o.if_contains("c");
  const auto* t = o.if_contains("t");
  if (!c || !c->is_object() || !t || !t->is_int64() || t->as_int64() < 0) return bad();
  if (c->as_object().size() > 1000) return bad();
  PendingCursor out;
  out.to_device = t->as_int64();
  for (const auto& [k, seq] : c->as_object()) {
    auto id = NormalizeUuid(k);
    if (!id || !seq.is_int64() || seq.as_int64() < 0) return bad();
    out.seqs[*id] = seq.as_int64();
  }
  return out;
}

}  // namespace parley::services
