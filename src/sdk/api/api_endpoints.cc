// ApiClient: users, devices, keys, chat, presence, groups, media, notifications and search.
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sdk/api/api_client.h"
#include "sdk/net/url.h"

namespace parley::sdk {

namespace json = boost::json;
using net::UrlEncode;

namespace {
template <typename T, typename F>
std::vector<T> ListOf(const json::object& o, std::string_view key, F from) {
  std::vector<T> out;
  if (const auto* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& e : v->get_array())
      if (e.is_object()) out.push_back(from(e.get_object()));
  }
  return out;
}

std::string WithLimit(std::string target, int limit) {
  if (limit <= 0) return target;
  target += target.find('?') == std::string::npos ? '?' : '&';
  return target + "limit=" + std::to_string(limit);
}

template <typename T>
Result<T> Map(Result<json::object> r, T (*from)(const json::object&)) {
  if (!r.ok()) return r.error();
  return from(*r);
}
}  // namespace

// --- users, devices, keys ---

Result<User> ApiClient::GetUser(const std::string& user_id) {
  return Map(CallObject("GET", "/v1/users/" + UrlEncode(user_id), std::nullopt), &UserFromJson);
}

Result<User> ApiClient::FindUser(const std::string& username) {
  return Map(CallObject("GET", "/v1/users?username=" + UrlEncode(username), std::nullopt),
             &UserFromJson);
}

Result<std::vector<Device>> ApiClient::ListDevices() {
  auto r = CallObject("GET", "/v1/devices", std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<Device>(*r, "devices", DeviceFromJson);
}

Result<Unit> ApiClient::RevokeDevice(const std::string& device_id) {
  auto r = Call("DELETE", "/v1/devices/" + UrlEncode(device_id), std::nullopt);
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<Unit> ApiClient::PutKeys(const PublishedKeys& keys) {
  auto r = Call("PUT", "/v1/keys", ToJson(keys));
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<int64_t> ApiClient::CountOneTimePrekeys() {
  auto r = CallObject("GET", "/v1/keys/count", std::nullopt);
  if (!r.ok()) return r.error();
  return JInt(*r, "one_time_prekeys");
}

Result<std::vector<PrekeyBundle>> ApiClient::GetBundles(const std::string& user_id,
                                                        const std::string& query) {
  auto r = CallObject("GET", "/v1/keys/" + UrlEncode(user_id) + query, std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<PrekeyBundle>(*r, "devices",
                              [&](const json::object& o) { return BundleFromJson(user_id, o); });
}

Result<std::vector<PrekeyBundle>> ApiClient::ClaimAllBundles(const std::string& user_id) {
  return GetBundles(user_id, "");
}

Result<std::vector<PrekeyBundle>> ApiClient::ListKeyDevices(const std::string& user_id) {
  auto r = GetBundles(user_id, "?claim=false");
  if (!r.ok()) return r.error();
  for (auto& b : *r) {  // nothing was claimed: never hand out a prekey by mistake
    b.one_time_prekey_id.reset();
    b.one_time_prekey.clear();
  }
  return r;
}

Result<PrekeyBundle> ApiClient::ClaimBundle(const std::string& user_id,
                                            const std::string& device_id) {
  auto r = GetBundles(user_id, "?device_id=" + UrlEncode(device_id));
  if (!r.ok()) return r.error();
  for (auto& b : *r)
    if (b.device_id == device_id) return std::move(b);
  return MakeError(ErrorCode::kNotFound, "that device has published no keys");
}

// --- chat ---

Result<SendResult> ApiClient::SendMessage(const OutgoingMessage& m) {
  net::HttpRequestSpec spec;
  spec.method = "POST";
  spec.target = "/v1/send-message";
  spec.body = json::serialize(ToJson(m));
  spec.headers.emplace_back("Content-Type", "application/json");
  auto r = Send(std::move(spec), true);
  if (!r.ok()) return r.error();
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kInternal, "malformed send answer");
  SendResult s = SendResultFromJson(v.get_object());
  s.duplicate = r->status == 200;  // 201 the first time, 200 for a repeated client_msg_id
  return s;
}

Result<PendingPage> ApiClient::GetMessages(const std::string& after, int limit) {
  std::string target = "/v1/get-messages";
  if (!after.empty()) target += "?after=" + UrlEncode(after);
  auto r = CallObject("GET", WithLimit(target, limit), std::nullopt);
  if (!r.ok()) return r.error();
  PendingPage p;
  p.messages = ListOf<Message>(*r, "messages", MessageFromJson);
  p.to_device = ListOf<ToDeviceMessage>(*r, "to_device", ToDeviceFromJson);
  p.cursor = JStr(*r, "cursor");
  p.has_more = JBool(*r, "has_more");
  return p;
}

Result<HistoryPage> ApiClient::GetChatHistory(const std::string& conversation_id,
                                              int64_t before_seq, int64_t after_seq, int limit) {
  std::string target = "/v1/get-chat-history?conversation_id=" + UrlEncode(conversation_id);
  if (before_seq > 0) target += "&before_seq=" + std::to_string(before_seq);
  if (after_seq > 0) target += "&after_seq=" + std::to_string(after_seq);
  auto r = CallObject("GET", WithLimit(target, limit), std::nullopt);
  if (!r.ok()) return r.error();
  return HistoryPage{ListOf<Message>(*r, "messages", MessageFromJson), JBool(*r, "has_more")};
}

Result<std::vector<Conversation>> ApiClient::ListConversations() {
  auto r = CallObject("GET", "/v1/conversations", std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<Conversation>(*r, "conversations", ConversationFromJson);
}

Result<Unit> ApiClient::MarkDelivered(const std::string& conversation_id, int64_t up_to_seq) {
  auto r = Call("POST", "/v1/mark-delivered",
                json::object{{"conversation_id", conversation_id}, {"up_to_seq", up_to_seq}});
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<Unit> ApiClient::MarkRead(const std::string& conversation_id, int64_t up_to_seq) {
  auto r = Call("POST", "/v1/mark-read",
                json::object{{"conversation_id", conversation_id}, {"up_to_seq", up_to_seq}});
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<MessageStatus> ApiClient::GetMessageStatus(const std::string& message_id) {
  auto r = CallObject("GET", "/v1/message-status?message_id=" + UrlEncode(message_id),
                      std::nullopt);
  if (!r.ok()) return r.error();
  MessageStatus s{JStr(*r, "message_id"), JStr(*r, "conversation_id"), JStr(*r, "status"),
                  JInt(*r, "seq"), {}};
  s.receipts = ListOf<Receipt>(*r, "receipts", [](const json::object& o) {
    return Receipt{JStr(o, "user_id"), JInt(o, "delivered_at"), JInt(o, "read_at")};
  });
  return s;
}

Result<int64_t> ApiClient::SendToDevice(
    const std::map<std::string, std::map<std::string, std::string>>& messages) {
  json::object users;
  for (const auto& [user, devices] : messages) {
    json::object d;
    for (const auto& [device, body] : devices) d[device] = body;
    users[user] = std::move(d);
  }
  auto r = CallObject("POST", "/v1/send-to-device", json::object{{"messages", std::move(users)}});
  if (!r.ok()) return r.error();
  return JInt(*r, "queued");
}

// --- presence ---

Result<Unit> ApiClient::UpdateStatus(const std::string& status, const std::string& text) {
  json::object body{{"status", status}};
  if (!text.empty()) body["text"] = text;
  auto r = Call("POST", "/v1/update-status", body);
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<std::vector<PresenceStatus>> ApiClient::GetStatus(const std::vector<std::string>& ids) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ",") + id;
  auto r = CallObject("GET", "/v1/get-status?user_ids=" + UrlEncode(list), std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<PresenceStatus>(*r, "statuses", PresenceFromJson);
}

// --- groups ---

Result<Group> ApiClient::CreateGroup(const std::string& name,
                                     const std::vector<std::string>& member_ids) {
  json::array ids;
  for (const auto& id : member_ids) ids.emplace_back(id);
  return Map(CallObject("POST", "/v1/create-group",
                        json::object{{"name", name}, {"member_ids", std::move(ids)}}),
             &GroupFromJson);
}

Result<Group> ApiClient::AddMember(const std::string& group_id, const std::string& user_id,
                                   const std::string& role) {
  json::object body{{"group_id", group_id}, {"user_id", user_id}};
  if (!role.empty()) body["role"] = role;
  return Map(CallObject("POST", "/v1/add-member", body), &GroupFromJson);
}

Result<Group> ApiClient::RemoveMember(const std::string& group_id, const std::string& user_id) {
  return Map(CallObject("POST", "/v1/remove-member",
                        json::object{{"group_id", group_id}, {"user_id", user_id}}),
             &GroupFromJson);
}

Result<Group> ApiClient::UpdateGroup(const std::string& group_id,
                                     const std::optional<std::string>& name,
                                     const std::map<std::string, std::string>& roles) {
  json::object body{{"group_id", group_id}};
  if (name) body["name"] = *name;
  if (!roles.empty()) {
    json::object r;
    for (const auto& [user, role] : roles) r[user] = role;
    body["roles"] = std::move(r);
  }
  return Map(CallObject("POST", "/v1/update-group", body), &GroupFromJson);
}

Result<Group> ApiClient::GetGroup(const std::string& group_id) {
  return Map(CallObject("GET", "/v1/groups/" + UrlEncode(group_id), std::nullopt),
             &GroupFromJson);
}

// --- media ---

Result<Media> ApiClient::Upload(const std::string& path, const std::string& content_type,
                                const std::string& filename) {
  net::HttpRequestSpec spec;
  spec.method = "POST";
  spec.target = "/v1/upload";
  spec.body_file = path;
  spec.headers.emplace_back("Content-Type",
                            content_type.empty() ? "application/octet-stream" : content_type);
  if (!filename.empty()) spec.headers.emplace_back("X-Filename", UrlEncode(filename));
  auto r = Send(std::move(spec), true);
  if (!r.ok()) return r.error();
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kInternal, "malformed upload answer");
  return MediaFromJson(v.get_object());
}

Result<Media> ApiClient::GetMedia(const std::string& media_id) {
  return Map(CallObject("GET", "/v1/media/" + UrlEncode(media_id), std::nullopt), &MediaFromJson);
}

Result<uint64_t> ApiClient::Download(const std::string& media_id, const std::string& out_path,
                                     const std::string& variant) {
  net::HttpRequestSpec spec;
  spec.target = "/v1/download/" + UrlEncode(media_id);
  if (!variant.empty()) spec.target += "?variant=" + UrlEncode(variant);
  spec.response_file = out_path;
  auto r = Send(std::move(spec), true);
  if (!r.ok()) return r.error();
  return r->body_bytes;
}

Result<uint64_t> ApiClient::DownloadSigned(const std::string& url, const std::string& out_path) {
  std::string target = url;
  if (url.rfind("/", 0) != 0) {
    // Absolute: it must be this server's, else the token-less link would go elsewhere.
    auto base = net::ParseBaseUrl(url.substr(0, url.find('/', url.find("://") + 3)));
    if (!base.ok() || base->host != http_.base().host || base->port != http_.base().port)
      return MakeError(ErrorCode::kInvalidArgument, "the link is not on this server");
    size_t path = url.find('/', url.find("://") + 3);
    target = path == std::string::npos ? "/" : url.substr(path);
    // The base's prefix is added again by the client.
    const std::string& prefix = http_.base().prefix;
    if (!prefix.empty() && target.rfind(prefix, 0) == 0) target = target.substr(prefix.size());
  }
  net::HttpRequestSpec spec;
  spec.target = target;
  spec.response_file = out_path;
  auto r = Send(std::move(spec), false);
  if (!r.ok()) return r.error();
  return r->body_bytes;
}

// --- notifications, search ---

Result<Unit> ApiClient::RegisterPush(const std::string& endpoint) {
  auto r = Call("POST", "/v1/register-push", json::object{{"endpoint", endpoint}});
  if (!r.ok()) return r.error();
  return Unit{};
}

Result<std::vector<json::object>> ApiClient::Notifications(int limit, int64_t before) {
  std::string target = "/v1/notifications";
  if (before > 0) target += "?before=" + std::to_string(before);
  auto r = CallObject("GET", WithLimit(target, limit), std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<json::object>(*r, "notifications", [](const json::object& o) { return o; });
}

Result<std::vector<Message>> ApiClient::SearchMessages(const std::string& q,
                                                       const std::string& conversation_id,
                                                       int limit) {
  std::string target = "/v1/search-messages?q=" + UrlEncode(q);
  if (!conversation_id.empty()) target += "&conversation_id=" + UrlEncode(conversation_id);
  auto r = CallObject("GET", WithLimit(target, limit), std::nullopt);
  if (!r.ok()) return r.error();
  return ListOf<Message>(*r, "results", MessageFromJson);
}

}  // namespace parley::sdk
