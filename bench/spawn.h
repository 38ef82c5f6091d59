// Bridges from the main thread to coroutines running on an io_context: start one and get a
// std::future of its result. Result<T> has no default value, which co_spawn's own use_future
// would need, hence this small adapter.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <future>
#include <memory>

namespace parley::bench {

namespace detail {
template <typename T>
boost::asio::awaitable<void> Fulfil(boost::asio::awaitable<T> work,
                                    std::shared_ptr<std::promise<T>> promise) {
  promise->set_value(co_await std::move(work));
}
}  // namespace detail

template <typename Executor, typename T>
std::future<T> SpawnFuture(Executor ex, boost::asio::awaitable<T> work) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  boost::asio::co_spawn(ex, detail::Fulfil(std::move(work), promise),
                        [promise](std::exception_ptr e) {
                          if (e) promise->set_exception(e);
                        });
  return future;
}

}  // namespace parley::bench
