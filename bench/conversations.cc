#include "conversations.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <future>
#include <iostream>
#include <memory>
#include <random>

#include "clock.h"
#include "frames.h"
#include "spawn.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr uint64_t kPairingRef = 0;

struct Outcome {
  bool done = false;
  std::optional<Error> error;
  std::string conversation_id;
};

asio::awaitable<Result<std::string>> OpenOne(WsConnection& conn, std::string to_user_id,
                                             std::chrono::milliseconds timeout) {
  auto outcome = std::make_shared<Outcome>();
  auto wake = std::make_shared<asio::steady_timer>(conn.executor(), timeout);
  conn.SetHandlers(
      [outcome, wake](std::string_view text) {
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        if (ec || !v.is_object() || outcome->done) return;
        const auto& f = v.get_object();
        if (RefOf(f) != kPairingRef) return;
        const auto type = TypeOf(f);
        if (type == "ack") {
          outcome->conversation_id = std::string(StringOf(f, "conversation_id"));
        } else if (type == "error") {
          outcome->error = Error{ExitCode::kSetupFailed, "send with to_user_id refused: " +
                                                             ErrorCodeOf(f) + ": " +
                                                             ErrorMessageOf(f)};
        } else {
          return;
        }
        outcome->done = true;
        wake->cancel();
      },
      [outcome, wake](const std::string& why) {
        outcome->error = Error{ExitCode::kSetupFailed, "WebSocket closed while pairing: " + why};
        outcome->done = true;
        wake->cancel();
      });

  std::string frame;
  AppendSendFrame(frame, kPairingRef, "to_user_id", to_user_id, std::random_device{}(), 0,
                  "parley-bench pairing");
  conn.SendText(frame);
  co_await wake->async_wait(asio::as_tuple(asio::use_awaitable));
  conn.SetHandlers(nullptr, nullptr);
  if (outcome->error) co_return *outcome->error;
  if (!outcome->done) {
    co_return Error{ExitCode::kSetupFailed, "no ack to a send frame within " +
                                                std::to_string(timeout.count()) + " ms"};
  }
  co_return outcome->conversation_id;
}

}  // namespace

namespace {

// Device a of every pair sends to_user_id = b; reads conversation_id from the ack.
Result<std::vector<DirectPair>> OpenPairs(Fleet& fleet, const std::vector<Account>& accounts,
                                          std::vector<DirectPair> pairs,
                                          std::chrono::milliseconds timeout) {
  const int64_t started = NowNs();
  std::vector<std::future<Result<std::string>>> pending;
  for (const auto& p : pairs) {
    WsConnection& conn = fleet.conn(p.a);
    pending.push_back(SpawnFuture(conn.executor(), OpenOne(conn, accounts[p.b].user_id, timeout)));
  }
  int without_id = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto r = pending[i].get();
    if (!r.ok()) {
      return Error{r.error().code, "opening the direct conversation " + accounts[pairs[i].a].username +
                                       " -> " + accounts[pairs[i].b].username + ": " +
                                       r.error().message};
    }
    pairs[i].conversation_id = r.value();
    if (pairs[i].conversation_id.empty()) ++without_id;
  }
  if (without_id > 0) {
    std::cerr << "parley-bench: WARNING: " << without_id
              << " acks to a first send carried no conversation_id; those pairs send with "
                 "to_user_id\n";
  }
  std::cerr << "parley-bench: " << pairs.size() << " direct conversations opened in "
            << (NowNs() - started) / kNsPerMs << " ms\n";
  return pairs;
}

}  // namespace

Result<std::vector<DirectPair>> OpenDirectConversations(Fleet& fleet,
                                                        const std::vector<Account>& accounts,
                                                        std::chrono::milliseconds timeout) {
  std::vector<DirectPair> pairs;
  for (size_t a = 0; a + 1 < accounts.size(); a += 2) {
    pairs.push_back(DirectPair{static_cast<int>(a), static_cast<int>(a + 1), {}});
  }
  return OpenPairs(fleet, accounts, std::move(pairs), timeout);
}

Result<std::vector<DirectPair>> OpenHubConversations(Fleet& fleet,
                                                     const std::vector<Account>& accounts,
                                                     int hub, std::chrono::milliseconds timeout) {
  std::vector<DirectPair> pairs;
  for (int i = 0; i < static_cast<int>(accounts.size()); ++i) {
    if (i != hub) pairs.push_back(DirectPair{i, hub, {}});
  }
  return OpenPairs(fleet, accounts, std::move(pairs), timeout);
}

}  // namespace parley::bench
