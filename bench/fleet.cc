#include "fleet.h"

#include <boost/asio/post.hpp>
#include <future>
#include <iostream>
#include <thread>

#include "clock.h"
#include "spawn.h"

namespace parley::bench {

Fleet::~Fleet() = default;

Status Fleet::ConnectAll(const Endpoint& ep, const std::vector<Account>& accounts,
                         std::chrono::milliseconds timeout, int in_flight) {
  const int64_t started = NowNs();
  for (size_t i = 0; i < accounts.size(); ++i) {
    conns_.push_back(std::make_unique<WsConnection>(pool_.context(thread_of(i))));
  }
  for (size_t first = 0; first < accounts.size(); first += in_flight) {
    const size_t last = std::min(accounts.size(), first + in_flight);
    std::vector<std::future<Status>> wave;
    for (size_t i = first; i < last; ++i) {
      WsConnection& c = *conns_[i];
      wave.push_back(SpawnFuture(c.executor(), c.Open(ep, accounts[i].access_token, timeout)));
    }
    for (size_t i = first; i < last; ++i) {
      Status st = wave[i - first].get();
      if (!st.ok()) {
        return Error{st.error().code, "device " + std::to_string(i) + " (" +
                                          accounts[i].username + "): " + st.error().message};
      }
    }
  }
  std::cerr << "parley-bench: " << accounts.size() << " WebSockets ready in "
            << (NowNs() - started) / kNsPerMs << " ms\n";
  return Ok();
}

void Fleet::CloseAll(std::chrono::milliseconds grace) {
  for (auto& c : conns_) {
    boost::asio::post(c->executor(), [conn = c.get()] { conn->Close(); });
  }
  std::this_thread::sleep_for(grace);
}

}  // namespace parley::bench
