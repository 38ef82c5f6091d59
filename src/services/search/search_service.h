// Search service: GET /v1/search-messages?q=TEXT&conversation_id=ID&limit=N →
// {results:[message…]}, newest first, only from what the caller may read: for each of their
// conversations (or the one named), the seq range of their membership, (joined_seq, left_seq].
// Every word of q must match; the last also as a prefix. What is indexed, and how encrypted messages are found by their
// search tokens, is the SearchIndex's contract (storage/search_index.h); docs/api.md "Search"
// has the decisions.
//
// Owns the SearchIndexer that keeps the index up to date from message-events.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "services/context.h"
#include "services/search/search_indexer.h"
#include "services/search/search_params.h"
#include "storage/search_index.h"
#include "transport/router.h"

namespace parley::services {

class SearchService {
 public:
  SearchService(Context& ctx, storage::SearchIndex& index);
  void Register(transport::Router& router);
  // Starts indexing (subscribes to the bus; catch-up in the background). Call before serving.
  void Start() { indexer_.Start(); }
  // Stops background catch-up. Call before closing the index.
  void Stop() { indexer_.Stop(); }

  // The messages a search finds for `user_id`, newest first. Blocking: call on the blocking pool.
  // kNotFound: the named conversation does not exist; kForbidden: the caller was never a member;
  // kInvalidArgument: q has no word or too many.
  Result<std::vector<storage::Message>> Find(const std::string& user_id, const SearchParams& p);

  SearchIndexer& indexer() { return indexer_; }

 private:
  boost::asio::awaitable<transport::HttpResponse> Search(transport::HttpRequest& req);

  Context& ctx_;
  storage::SearchIndex& index_;
  SearchIndexer indexer_;
  std::atomic<uint64_t>& searches_total_;
};

}  // namespace parley::services
