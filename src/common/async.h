// Bridges from callback and blocking APIs into C++20 coroutines on Asio executors.
//
// AwaitDone: start an asynchronous store write and resume, on the awaiting coroutine's executor,
// with its Result. OnPool: run a blocking function on a thread pool and resume likewise. Either
// way an I/O thread never blocks on storage or hashing.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <type_traits>

#include "common/result.h"

namespace parley {

namespace asio = boost::asio;

// Both take closures that capture only references (trivially copyable), by design: the awaiting
// coroutine outlives the work, and GCC 12 relocates non-trivial temporaries of a co_await
// expression bitwise (a std::string capture then frees a pointer into the coroutine frame).
template <typename T, typename Start>
asio::awaitable<Result<T>> AwaitDone(Start start) {
  static_assert(std::is_trivially_copyable_v<Start>, "capture by reference only (see above)");
  return asio::async_initiate<const asio::use_awaitable_t<>, void(Result<T>)>(
      [start = std::move(start)](auto handler) mutable {
        using H = decltype(handler);
        auto h = std::make_shared<H>(std::move(handler));
        start([h](Result<T> r) {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

template <typename F>
asio::awaitable<std::invoke_result_t<F&>> OnPool(asio::thread_pool& pool, F fn) {
  static_assert(std::is_trivially_copyable_v<F>, "capture by reference only (see above)");
  using R = std::invoke_result_t<F&>;
  return asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(
      [&pool, fn = std::move(fn)](auto handler) mutable {
        using H = decltype(handler);
        auto h = std::make_shared<H>(std::move(handler));
        asio::post(pool, [fn = std::move(fn), h]() mutable {
          R r = fn();
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace parley
