// Client: reading what is stored (history, search, conversations) and downloading files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/ids.h"
#include "sdk/client/client.h"
#include "sdk/client/client_payload.h"

namespace parley::sdk {

namespace fs = std::filesystem;

namespace {
std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (char c : hex.substr(i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return std::nullopt;
    }
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// A file name from a message, safe to create in a directory.
std::string SafeName(const std::string& name, const std::string& fallback) {
  std::string base = fs::path(name).filename().string();
  if (base.empty() || base == "." || base == "..") return fallback;
  return base;
}
}  // namespace

Result<std::vector<LocalMessage>> Client::History(const std::string& who, int limit) {
  if (limit <= 0) limit = 50;
  auto t = Resolve(who);
  if (!t.ok()) return t.error();
  auto local = store_->ListMessages(t->conversation_id, 0, limit);
  if (!local.ok()) return local.error();
  // Older pages from the server while the store has fewer than asked for.
  int64_t before = local->empty() ? 0 : local->back().seq;
  int have = static_cast<int>(local->size());
  for (int round = 0; round < 20 && have < limit && before != 1; ++round) {
    auto page = api_->GetChatHistory(t->conversation_id, before, 0,
                                     std::min(200, limit - have));
    if (!page.ok()) {
      // Offline: what we have. Not found: a direct conversation with no message yet.
      if (page.error().code == ErrorCode::kUnavailable ||
          page.error().code == ErrorCode::kNotFound)
        break;
      return page.error();
    }
    if (page->messages.empty()) break;
    Events ev;
    {
      std::lock_guard lock(engine_mu_);
      auto engine = EngineLocked();
      if (!engine.ok()) {
        if (engine.error().code == ErrorCode::kUnavailable) break;  // offline: what we have
        return engine.error();
      }
      for (const auto& m : page->messages) {
        bool pending = false;
        PARLEY_TRY(ProcessMessage(m, ev, &pending));
        before = before == 0 ? m.seq : std::min(before, m.seq);
        ++have;
      }
      CollectKeyChanges(ev);
    }
    Dispatch(ev);
    if (!page->has_more) break;
  }
  local = store_->ListMessages(t->conversation_id, 0, limit);
  if (!local.ok()) return local.error();
  std::reverse(local->begin(), local->end());
  return local;
}

Result<std::vector<LocalMessage>> Client::Search(const std::string& text, const std::string& in,
                                                 int limit) {
  std::string conversation_id;
  if (!in.empty()) {
    auto t = Resolve(in);
    if (!t.ok()) return t.error();
    conversation_id = t->conversation_id;
  }
  return store_->Search(text, conversation_id, limit <= 0 ? 50 : limit);
}

Result<std::vector<LocalConversation>> Client::Conversations() {
  PARLEY_TRY(RequireSession());
  auto r = RefreshConversations();
  if (!r.ok() && r.error().code != ErrorCode::kUnavailable) return r.error();
  return store_->ListConversations();
}

Result<std::string> Client::GetFile(const std::string& message_id, const std::string& out_path) {
  auto id = NormalizeUuid(message_id);
  auto m = store_->GetMessage(id ? *id : message_id);
  if (!m.ok()) return m.error();
  if (!*m) return MakeError(ErrorCode::kNotFound, "no such message here (run `parley sync`)");
  auto d = ParseMediaDescriptor((*m)->media_json);
  if (!d) return MakeError(ErrorCode::kNotFound, "message " + message_id + " carries no file");
  auto sha = HexDecode(d->sha256_hex);
  if (!sha) return MakeError(ErrorCode::kInvalidArgument, "malformed file descriptor");

  std::string name = SafeName(d->file_name, "file-" + d->media_id);
  std::string dest = out_path.empty() ? name : out_path;
  if (!out_path.empty() && fs::is_directory(out_path)) dest = (fs::path(out_path) / name).string();

  std::string blob = profile_dir_ + "/download-" + NewUuidV4() + ".blob";
  auto got = api_->Download(d->media_id, blob);
  if (!got.ok()) return got.error();
  std::string part = dest + ".part";
  Result<Unit> r = Unit{};
  {
    std::ifstream in(blob, std::ios::binary);
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    if (!out) r = MakeError(ErrorCode::kUnavailable, "cannot write " + part);
    else r = crypto::DecryptMedia(in, out, d->key, *sha, d->size);
    out.close();
    if (r.ok() && !out) r = MakeError(ErrorCode::kUnavailable, "cannot write " + part);
  }
  std::remove(blob.c_str());
  if (!r.ok()) {
    std::remove(part.c_str());  // nothing unverified is left behind
    return r.error();
  }
  std::error_code ec;
  fs::rename(part, dest, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot write " + dest + ": " + ec.message());
  return dest;
}

}  // namespace parley::sdk
