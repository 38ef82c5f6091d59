// Client: resolving targets and sending (text and files) through the outbox.
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/encoding.h"
#include "common/ids.h"
#include "sdk/client/client.h"
#include "sdk/client/client_payload.h"

namespace parley::sdk {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {
constexpr size_t kMaxSearchTokensPerMessage = 256;  // send-message `search_tokens` (docs/api.md)
}  // namespace

Result<std::string> Client::UserIdOf(const std::string& user) {
  if (auto id = NormalizeUuid(user)) return *id;
  auto contact = store_->FindContactByUsername(user);
  if (contact.ok() && *contact) return (*contact)->user_id;
  auto found = api_->FindUser(user);
  if (!found.ok()) {
    if (found.error().code == ErrorCode::kNotFound)
      return MakeError(ErrorCode::kNotFound, "no such user: " + user);
    return found.error();
  }
  (void)store_->UpsertContact(Contact{found->user_id, found->username, found->display_name});
  return found->user_id;
}

std::string Client::UserName(const std::string& user_id) {
  if (user_id.empty()) return "";
  auto c = store_->GetContact(user_id);
  if (c.ok() && *c) return (*c)->username;
  auto u = api_->GetUser(user_id);
  if (!u.ok()) return user_id;
  (void)store_->UpsertContact(Contact{u->user_id, u->username, u->display_name});
  return u->username;
}

void Client::RememberGroup(const Group& g) {
  auto existing = store_->GetConversation(g.conversation_id);
  LocalConversation c;
  if (existing.ok() && *existing) c = **existing;
  c.conversation_id = g.conversation_id;
  c.type = "group";
  c.group_id = g.group_id;
  c.title = g.name;
  (void)store_->UpsertConversation(c);
}

Result<Target> Client::Resolve(const std::string& who) {
  PARLEY_TRY(RequireSession());
  const std::string self = api_->user_id();
  if (auto id = NormalizeUuid(who)) {
    auto convs = store_->ListConversations();
    if (convs.ok())
      for (const auto& c : *convs)
        if (c.type == "group" && (c.conversation_id == *id || c.group_id == *id))
          return Target{c.conversation_id, true, "", c.group_id, c.title};
    if (auto g = api_->GetGroup(*id); g.ok()) {
      RememberGroup(*g);
      return Target{g->conversation_id, true, "", g->group_id, g->name};
    }
    if (convs.ok())
      for (const auto& c : *convs)
        if (c.type == "direct" && c.conversation_id == *id)
          return Target{c.conversation_id, false, c.peer_user_id, "", c.title};
  }
  auto peer = UserIdOf(who);
  if (!peer.ok()) return peer.error();
  std::string name = UserName(*peer);
  Target t{DirectConversationId(self, *peer), false, *peer, "", name};
  auto existing = store_->GetConversation(t.conversation_id);
  if (existing.ok() && (!*existing || (*existing)->type.empty())) {
    LocalConversation c = *existing ? **existing : LocalConversation{};
    c.conversation_id = t.conversation_id;
    c.type = "direct";
    c.peer_user_id = *peer;
    c.title = name;
    (void)store_->UpsertConversation(c);
  }
  return t;
}

Result<OutboxEntry> Client::Prepare(const Target& t, const std::string& payload,
                                    const std::string& content_type,
                                    const std::vector<std::string>& media_ids,
                                    const std::string& local_text,
                                    const std::string& media_json) {
  std::vector<std::string> members = {api_->user_id()};
  if (!t.is_group) members.push_back(t.peer_user_id);
  if (t.is_group) {  // the membership now, so removed members' devices lose the sender key
    auto g = api_->GetGroup(t.group_id);
    if (!g.ok()) return g.error();
    for (const auto& m : g->members) members.push_back(m.user_id);
  }
  OutboxEntry e;
  json::array search_tokens;
  {
    std::lock_guard lock(engine_mu_);
    auto engine = EngineLocked();
    if (!engine.ok()) return engine.error();
    // Server-assisted search (opt-in): the engine gives no tokens unless it is on here.
    if (content_type == "text") {
      auto tokens = (*engine)->SearchTokens(t.conversation_id, local_text);
      if (!tokens.ok()) return tokens.error();
      for (auto& tok : *tokens) {
        if (search_tokens.size() >= kMaxSearchTokensPerMessage) break;  // docs/api.md limit
        search_tokens.emplace_back(std::move(tok));
      }
    }
    auto body = (*engine)->EncryptMessage(t.conversation_id, members, payload);
    if (!body.ok()) return body.error();
    e.body = std::move(*body);
  }
  // Time-ordered: the server's (device, client_msg_id) index then grows at one end per device
  // instead of taking each send into a random page (docs/benchmarks.md, the writer's state).
  e.client_msg_id = NewUuidV7();
  if (t.is_group) e.conversation_id = t.conversation_id;
  else e.to_user_id = t.peer_user_id;  // opens the direct conversation if it is new
  e.content_type = content_type;
  e.encryption = e2ee::kEncryptionE2eeV1;
  json::array ids;
  for (const auto& id : media_ids) ids.emplace_back(id);
  // local_* fields stay on this device: they let a replay record the plaintext it sent.
  json::object extra{{"media_ids", ids},
                     {"local_conversation_id", t.conversation_id},
                     {"local_text", local_text},
                     {"local_media_json", media_json}};
  if (!search_tokens.empty()) extra["search_tokens"] = std::move(search_tokens);
  e.extra_json = json::serialize(extra);
  e.created_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  PARLEY_TRY(store_->AddOutbox(e));
  return e;
}

Result<LocalMessage> Client::SendEntry(const OutboxEntry& e) {
  OutgoingMessage out;
  out.conversation_id = e.conversation_id;
  out.to_user_id = e.to_user_id;
  out.client_msg_id = e.client_msg_id;
  out.body = e.body;
  out.content_type = e.content_type;
  out.encryption = e.encryption;
  json::object extra;
  if (!e.extra_json.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(e.extra_json, ec);
    if (!ec && v.is_object()) extra = v.as_object();
  }
  out.media_ids = JStrList(extra, "media_ids");
  out.search_tokens = JStrList(extra, "search_tokens");  // present only if opted in at Prepare
  auto sent = api_->SendMessage(out);
  if (!sent.ok()) return sent.error();

  LocalMessage m;
  m.message_id = sent->message_id;
  m.conversation_id = sent->conversation_id;
  m.seq = sent->seq;
  m.sender_id = api_->user_id();
  m.sender_device_id = api_->device_id();
  m.created_at = sent->created_at;
  m.content_type = e.content_type.empty() ? "text" : e.content_type;
  m.encryption = e.encryption;
  m.plaintext = JStr(extra, "local_text");
  m.media_json = JStr(extra, "local_media_json");
  m.status = "sent";
  PARLEY_TRY(store_->PutMessage(m));
  PARLEY_TRY(store_->RemoveOutbox(e.client_msg_id));
  return m;
}

Result<OutboxEntry> Client::QueueText(const std::string& to, const std::string& text) {
  auto t = Resolve(to);
  if (!t.ok()) return t.error();
  return Prepare(*t, EncodePayload(Payload{text, std::nullopt}), "text", {}, text, "");
}

Result<LocalMessage> Client::SendText(const std::string& to, const std::string& text) {
  if (text.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty message");
  PARLEY_TRY(FlushOutbox());  // keep the order: what was queued before goes first
  auto e = QueueText(to, text);
  if (!e.ok()) return e.error();
  return SendEntry(*e);
}

Result<int> Client::FlushOutbox() {
  PARLEY_TRY(RequireSession());
  auto entries = store_->ListOutbox();
  if (!entries.ok()) return entries.error();
  int sent = 0;
  for (const auto& e : *entries) {
    auto m = SendEntry(e);
    if (!m.ok()) return m.error();
    ++sent;
  }
  return sent;
}

Result<LocalMessage> Client::SendFile(const std::string& to, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || fs::is_directory(path))
    return MakeError(ErrorCode::kNotFound, "cannot read " + path);
  auto t = Resolve(to);
  if (!t.ok()) return t.error();
  PARLEY_TRY(FlushOutbox());
  std::string blob_path = profile_dir_ + "/upload-" + NewUuidV4() + ".blob";
  crypto::MediaEncrypted enc;
  {
    std::ofstream out(blob_path, std::ios::binary | std::ios::trunc);
    fs::permissions(blob_path, fs::perms::owner_read | fs::perms::owner_write);
    auto r = crypto::EncryptMedia(in, out, opts_.engine.random);
    out.close();
    if (!r.ok() || !out) {
      std::remove(blob_path.c_str());
      return r.ok() ? MakeError(ErrorCode::kUnavailable, "cannot write " + blob_path) : r.error();
    }
    enc = std::move(*r);
  }
  auto media = api_->Upload(blob_path, "application/octet-stream");  // no file name: E2EE
  std::remove(blob_path.c_str());
  if (!media.ok()) return media.error();
  MediaDescriptor d;
  d.media_id = media->media_id;
  d.key = enc.key;
  d.sha256_hex = HexEncode(enc.sha256);
  if (media->sha256 != d.sha256_hex)
    return MakeError(ErrorCode::kInternal, "the server stored other bytes than were uploaded");
  d.size = enc.plaintext_size;
  d.file_name = fs::path(path).filename().string();
  d.media_type = GuessMediaType(d.file_name);
  auto e = Prepare(*t, EncodePayload(Payload{d.file_name, d}), ContentTypeForMedia(d.media_type),
                   {d.media_id}, d.file_name, MediaDescriptorJson(d));
  if (!e.ok()) return e.error();
  return SendEntry(*e);
}

}  // namespace parley::sdk
