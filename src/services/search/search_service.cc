#include "services/search/search_service.h"

#include "common/async.h"
#include "services/chat/chat_json.h"
#include "services/chat/membership_check.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

storage::SearchScope ScopeOf(const storage::Membership& m) {
  return {m.conversation_id, m.joined_seq, m.left_seq.value_or(INT64_MAX)};
}

}  // namespace

SearchService::SearchService(Context& ctx, storage::SearchIndex& index)
    : ctx_(ctx),
      index_(index),
      indexer_(ctx, index),
      searches_total_(ctx.metrics.Counter("parley_search_requests_total", "Searches answered")) {}

void SearchService::Register(transport::Router& r) {
  r.Add("GET", "/v1/search-messages", Auth::kRequired,
        [this](HttpRequest& req) { return Search(req); });
}

Result<std::vector<storage::Message>> SearchService::Find(const std::string& user_id,
                                                          const SearchParams& p) {
  std::vector<storage::SearchScope> scopes;
  if (p.conversation_id) {
    auto m = MembershipOf(ctx_.message_store, *p.conversation_id, user_id);  // stranger: 404
    if (!m.ok()) return m.error();
    scopes.push_back(ScopeOf(*m));
  } else {
    auto memberships = ctx_.message_store.Memberships(user_id);
    if (!memberships.ok()) return memberships.error();
    scopes.reserve(memberships->size());
    for (const auto& m : *memberships) scopes.push_back(ScopeOf(m));
  }
  auto hits = index_.Search(p.q, scopes, p.limit);
  if (!hits.ok()) return hits.error();
  std::vector<storage::Message> out;
  out.reserve(hits->size());
  for (const auto& h : *hits) {
    auto page = ctx_.message_store.History(h.conversation_id, h.seq, h.seq, 0, INT64_MAX,
                                           /*ascending=*/false, 1);
    if (!page.ok()) return page.error();
    if (page->first.size() == 1) out.push_back(std::move(page->first.front()));
  }
  return out;
}

boost::asio::awaitable<HttpResponse> SearchService::Search(HttpRequest& req) {
  auto params = ReadSearchParams(req);
  if (!params.ok()) co_return ErrorResponse(params.error());
  const std::string& user = req.principal->user_id;
  auto found = co_await OnPool(ctx_.blocking, [&] { return Find(user, *params); });
  if (!found.ok()) co_return ErrorResponse(found.error());
  searches_total_.fetch_add(1, std::memory_order_relaxed);
  boost::json::array results;
  for (const auto& m : *found) results.push_back(MessageToJson(m));
  co_return JsonResponse(200, {{"results", std::move(results)}});
}

}  // namespace parley::services
