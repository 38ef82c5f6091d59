#include "groups.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <optional>

#include "clock.h"
#include "http_client.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string Field(const json::value& v, const char* key) {
  const auto* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

asio::awaitable<Status> SetUpOne(const Endpoint& ep, const std::vector<Account>& accounts,
                                 BenchGroup& g, int per_call, int number) {
  const Account& owner = accounts[g.members[0]];
  json::array first;
  size_t next = 1;
  for (; next < g.members.size() && static_cast<int>(first.size()) < per_call; ++next) {
    first.emplace_back(accounts[g.members[next]].user_id);
  }
  HttpRequest create{"POST", "/v1/create-group"};
  create.bearer_token = owner.access_token;
  create.body = json::serialize(
      json::object{{"name", "pb group " + std::to_string(number)}, {"member_ids", std::move(first)}});
  auto r = co_await HttpCall(ep, create);
  if (!r.ok()) co_return r.error();
  if (r->status != 201) {
    co_return Error{ExitCode::kSetupFailed, DescribeHttpError(create, *r) +
                                                " (is parleyd's --max-group-members high enough?)"};
  }
  boost::system::error_code ec;
  const json::value v = json::parse(r->body, ec);
  g.group_id = Field(v, "group_id");
  g.conversation_id = Field(v, "conversation_id");
  if (ec || g.group_id.empty() || g.conversation_id.empty()) {
    co_return Error{ExitCode::kSetupFailed,
                    "create-group: response lacks group_id or conversation_id (docs/api.md): " +
                        r->body.substr(0, 200)};
  }
  for (; next < g.members.size(); ++next) {
    HttpRequest add{"POST", "/v1/add-member"};
    add.bearer_token = owner.access_token;
    add.body = json::serialize(
        json::object{{"group_id", g.group_id}, {"user_id", accounts[g.members[next]].user_id}});
    auto a = co_await HttpCall(ep, add);
    if (!a.ok()) co_return a.error();
    if (a->status != 200) co_return Error{ExitCode::kSetupFailed, DescribeHttpError(add, *a)};
  }
  co_return Ok();
}

}  // namespace

Result<std::vector<BenchGroup>> CreateGroups(const Endpoint& ep,
                                             const std::vector<Account>& accounts, int groups,
                                             int size, int per_call, int concurrency) {
  const int64_t started = NowNs();
  std::vector<BenchGroup> out(groups);
  for (int g = 0; g < groups; ++g) {
    for (int i = 0; i < size; ++i) out[g].members.push_back(g * size + i);
  }
  asio::io_context io;
  int next = 0;
  std::optional<Error> failure;
  auto worker = [&]() -> asio::awaitable<void> {
    while (!failure && next < groups) {
      const int g = next++;
      Status st = co_await SetUpOne(ep, accounts, out[g], per_call, g);
      if (!st.ok() && !failure) failure = st.error();
    }
  };
  for (int i = 0; i < std::max(1, concurrency); ++i) asio::co_spawn(io, worker, asio::detached);
  io.run();
  if (failure) return *failure;
  std::cerr << "parley-bench: " << groups << " groups of " << size << " created in "
            << (NowNs() - started) / kNsPerMs << " ms\n";
  return out;
}

}  // namespace parley::bench
