#include "io_pool.h"

namespace parley::bench {

IoPool::IoPool(int threads) {
  for (int i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
}

IoPool::~IoPool() { Stop(); }

void IoPool::Join() {
  guards_.clear();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void IoPool::Stop() {
  for (auto& ctx : contexts_) ctx->stop();
  Join();
}

}  // namespace parley::bench
