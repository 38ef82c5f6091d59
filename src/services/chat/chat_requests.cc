#include "services/chat/chat_requests.h"

#include "common/ids.h"
#include "common/json_fields.h"

namespace parley::services {
namespace {

constexpr size_t kMaxClientMsgId = 128;
constexpr size_t kMaxMediaIds = 32;
constexpr size_t kMaxSearchTokens = 256;

bool IsShortWord(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

bool IsLowerHex(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<SendRequest> ParseSendRequest(const boost::json::object& body) {
  Fields f(body);
  auto conversation_id = f.Uuid("conversation_id", false);
  auto to_user_id = f.Uuid("to_user_id", false);
  auto client_msg_id = f.Str("client_msg_id", true, kMaxClientMsgId);
  auto content_type = f.Str("content_type", false, 32);
  auto encryption = f.Str("encryption", false, 16);
  auto media_ids = f.StrList("media_ids", false, kMaxMediaIds, 64);
  auto search_tokens = f.StrList("search_tokens", false, kMaxSearchTokens, 128);
  auto reply_to = f.Uuid("reply_to", false);
  const boost::json::value* body_v = body.if_contains("body");
  if (f.ok() && (!body_v || !body_v->is_string())) f.Fail("body is required and must be a string");
  if (f.ok() && conversation_id.has_value() == to_user_id.has_value())
    f.Fail("give exactly one of conversation_id and to_user_id");
  if (f.ok() && client_msg_id->empty()) f.Fail("client_msg_id must not be empty");
  if (f.ok() && content_type && (!IsShortWord(*content_type) || *content_type == "system"))
    f.Fail("content_type must be a short lowercase word (and not system)");
  if (f.ok() && encryption && *encryption != "none" && *encryption != "e2ee-v1")
    f.Fail("encryption must be none or e2ee-v1");
  if (f.ok() && media_ids) {
    for (auto& id : *media_ids) {
      auto n = NormalizeUuid(id);
      if (!n) {
        f.Fail("media_ids must be UUIDs");
        break;
      }
      id = *n;
    }
  }
  if (f.ok() && search_tokens) {
    for (const auto& t : *search_tokens)
      if (!IsLowerHex(t)) {
        f.Fail("search_tokens must be lowercase hex");
        break;
      }
  }
  if (!f.ok()) return f.error();
  SendRequest r;
  r.conversation_id = std::move(conversation_id);
  r.to_user_id = std::move(to_user_id);
  r.client_msg_id = std::move(*client_msg_id);
  r.content_type = std::move(content_type);
  r.encryption = std::move(encryption);
  if (media_ids) r.media_ids = std::move(*media_ids);
  r.search_tokens = std::move(search_tokens);
  r.reply_to = std::move(reply_to);
  r.body = std::string(body_v->as_string());
  return r;
}

Result<MarkRequest> ParseMarkRequest(const boost::json::object& body) {
  Fields f(body);
  auto conv = f.Uuid("conversation_id", true);
  auto seq = f.Int("up_to_seq", true, 0, INT64_MAX);
  if (!f.ok()) return f.error();
  return MarkRequest{std::move(*conv), *seq};
}

}  // namespace parley::services
