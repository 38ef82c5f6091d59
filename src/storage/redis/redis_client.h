// RedisClient: a small thread-safe, synchronous Redis client over hiredis. A fixed pool of
// connections, each guarded by its own mutex; a call takes a free one (or waits for one).
//
// - Connects lazily, with a connect timeout; every command has a command timeout.
// - A connection that fails (I/O error, timeout, protocol error) is dropped and reconnected on
//   next use; after a failed connect a slot waits `reconnect_backoff_ms` before trying again
//   (calls in between fail fast with kUnavailable), so a dead Redis costs a request at most one
//   command timeout plus one connect timeout, and usually nothing.
// - When a pooled connection turns out to be broken (e.g. Redis restarted), the command is retried
//   once on a fresh connection if it cannot have run (EOF) or is idempotent (other I/O errors,
//   including timeouts, after which it may have run).
// - Every reply is converted to RedisReply; an error reply becomes an Error (kUnavailable for
//   LOADING/BUSY/MASTERDOWN/READONLY/TRYAGAIN, else kInternal), never a value.
// Never logs passwords or command arguments. Blocking: call from the blocking pool or a
// background thread, never from an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct redisContext;

namespace parley::storage::redis {

// redis://[[user]:password@]host[:port][/db]   (port 6379, db 0 by default)
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;      // empty: AUTH with password only
  std::string password;  // secret: never logged
};
Result<RedisUrl> ParseRedisUrl(std::string_view url);

struct RedisOptions {
  int pool_size = 4;
  int connect_timeout_ms = 1000;
  int command_timeout_ms = 1000;
  int reconnect_backoff_ms = 500;
};

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kArray };  // kString: bulk strings and status replies
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
};

// A Lua script run by EVALSHA, falling back to EVAL when the server does not know it (restart,
// SCRIPT FLUSH). The SHA-1 is computed once at construction.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class RedisClient {
 public:
  RedisClient(RedisUrl url, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // PING on one connection: OkStatus, or kUnavailable with the reason.
  Status Ping();
  // Runs one command given as its arguments (binary-safe).
  Result<RedisReply> Command(const std::vector<std::string_view>& argv, bool idempotent = true);
  // EVALSHA script, falling back to EVAL on NOSCRIPT.
  Result<RedisReply> Eval(const RedisScript& script, const std::vector<std::string_view>& keys,
                          const std::vector<std::string_view>& args, bool idempotent = true);

 private:
  struct Slot {
    std::mutex mu;
    redisContext* ctx = nullptr;  // guarded by mu; null when disconnected
    std::chrono::steady_clock::time_point retry_at;  // guarded by mu: no connect before this
  };
  Slot& Acquire(std::unique_lock<std::mutex>& lock);
  Status EnsureConnected(Slot& s);  // requires s.mu
  void Drop(Slot& s);               // requires s.mu
  // One attempt on a connected slot; on a broken connection drops it and sets *io_error to
  // kEof or kIo. Requires s.mu.
  enum { kNoError = 0, kEof = 1, kIo = 2 };
  Result<RedisReply> RunOnce(Slot& s, const std::vector<std::string_view>& argv, int* io_error);

  const RedisUrl url_;          // constant after construction
  const RedisOptions options_;  // constant after construction
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
};

}  // namespace parley::storage::redis
