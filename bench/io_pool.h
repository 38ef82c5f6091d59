// N event-loop threads, each with its own io_context (one thread per context, so everything
// bound to a context runs single-threaded and needs no locks). Connections are spread over the
// contexts round-robin; per-thread state (statistics, tickers) lives with its context.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace parley::bench {

class IoPool {
 public:
  explicit IoPool(int threads);
  ~IoPool();  // Stop() and Join()
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  int size() const { return static_cast<int>(contexts_.size()); }
  boost::asio::io_context& context(int i) { return *contexts_[i % contexts_.size()]; }

  // Lets run() return once the contexts have no more work, then waits for the threads.
  void Join();
  // Stops every context now (pending handlers are dropped) and waits for the threads.
  void Stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace parley::bench
