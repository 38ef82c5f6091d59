// Client: server-assisted search of end-to-end encrypted messages (opt-in per conversation,
// docs/protocol.md §9, docs/api.md "Server-assisted search"). Tokens come from the E2EE engine;
// the server only ever sees them, never the words.
#include <algorithm>
#include <set>

#include "sdk/client/client.h"
#include "sdk/crypto/search_token.h"

namespace parley::sdk {

namespace {
// `q` of /v1/search-messages: 1-256 bytes, 1-16 words (docs/api.md "Search").
constexpr size_t kMaxQueryBytes = 256;
constexpr size_t kMaxQueryWords = 16;
constexpr int kMaxSearchLimit = 200;
}  // namespace

Result<Target> Client::SetServerSearch(const std::string& who, bool enabled) {
  auto t = Resolve(who);
  if (!t.ok()) return t.error();
  std::lock_guard lock(engine_mu_);
  auto engine = EngineLocked();
  if (!engine.ok()) return engine.error();
  PARLEY_TRY((*engine)->SetSearchEnabled(t->conversation_id, enabled));
  return t;
}

Result<std::vector<LocalMessage>> Client::SearchServer(const std::string& text,
                                                       const std::string& in, int limit) {
  if (in.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "server search needs a conversation (a user or group id)");
  if (crypto::NormalizeWords(text).empty())
    return MakeError(ErrorCode::kInvalidArgument, "nothing to search for: no word in the text");
  auto t = Resolve(in);
  if (!t.ok()) return t.error();

  std::vector<std::string> tokens;
  {
    std::lock_guard lock(engine_mu_);
    auto engine = EngineLocked();
    if (!engine.ok()) return engine.error();
    auto r = (*engine)->SearchTokens(t->conversation_id, text);
    if (!r.ok()) return r.error();
    tokens = std::move(*r);
  }
  if (tokens.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "server search is off for " + t->title +
                         " on this device: opt in first (docs/protocol.md §9)");
  std::string q;
  for (const auto& tok : tokens) q += (q.empty() ? "" : " ") + tok;
  if (q.size() > kMaxQueryBytes || tokens.size() > kMaxQueryWords)
    return MakeError(ErrorCode::kInvalidArgument,
                     "too many words for a server search (at most " +
                         std::to_string((kMaxQueryBytes + 1) / (tokens.front().size() + 1)) +
                         ")");

  auto hits = api_->SearchMessages(q, t->conversation_id,
                                   std::clamp(limit <= 0 ? 50 : limit, 1, kMaxSearchLimit));
  if (!hits.ok()) return hits.error();

  std::vector<LocalMessage> out;
  Events ev;
  {
    std::lock_guard lock(engine_mu_);
    auto engine = EngineLocked();
    if (!engine.ok()) return engine.error();
    const std::set<std::string> wanted(tokens.begin(), tokens.end());
    for (const auto& m : *hits) {
      if (m.conversation_id != t->conversation_id) continue;  // not what was asked
      bool pending = false;
      PARLEY_TRY(ProcessMessage(m, ev, &pending));  // no-op when already stored
      auto stored = store_->GetMessage(m.message_id);
      if (!stored.ok()) return stored.error();
      if (!*stored || (*stored)->pending_decrypt || !(*stored)->plaintext) continue;
      // Keep only what really holds every word (the server matches tokens, and a plain
      // message holding the same hex string would match too).
      auto have = (*engine)->SearchTokens(t->conversation_id, *(*stored)->plaintext);
      if (!have.ok()) return have.error();
      const std::set<std::string> got(have->begin(), have->end());
      if (!std::includes(got.begin(), got.end(), wanted.begin(), wanted.end())) continue;
      out.push_back(std::move(**stored));
    }
    CollectKeyChanges(ev);
  }
  Dispatch(ev);
  return out;
}

}  // namespace parley::sdk
