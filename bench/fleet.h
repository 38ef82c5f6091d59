// The generator's devices: one WebSocket per account, spread over the IoPool's threads.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "accounts.h"
#include "io_pool.h"
#include "result.h"
#include "ws_connection.h"

namespace parley::bench {

class Fleet {
 public:
  explicit Fleet(IoPool& pool) : pool_(pool) {}
  ~Fleet();  // closes what is still open

  // Opens one WebSocket per account (connection i on pool thread i % threads) and waits for
  // every ready frame. At most `in_flight` handshakes run at once. Fails on the first error.
  Status ConnectAll(const Endpoint& ep, const std::vector<Account>& accounts,
                    std::chrono::milliseconds timeout, int in_flight = 128);
  // Sends close frames and gives the server `grace` to answer; call before stopping the pool.
  void CloseAll(std::chrono::milliseconds grace = std::chrono::milliseconds(200));

  size_t size() const { return conns_.size(); }
  WsConnection& conn(size_t i) { return *conns_[i]; }
  // Index of the pool thread that runs connection i.
  int thread_of(size_t i) const { return static_cast<int>(i % pool_.size()); }
  IoPool& pool() { return pool_; }

 private:
  IoPool& pool_;
  std::vector<std::unique_ptr<WsConnection>> conns_;
};

}  // namespace parley::bench
