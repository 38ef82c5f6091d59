#include "storage/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <charconv>

namespace parley::storage::redis {

namespace {

Error Unavailable(std::string what) {
  return MakeError(ErrorCode::kUnavailable, "redis: " + std::move(what));
}

bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

timeval ToTimeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

// Converts a hiredis reply; error replies (at any depth) become an Error.
Result<RedisReply> Convert(const redisReply* r, int depth = 0) {
  RedisReply out;
  if (!r) return Unavailable("no reply");
  if (depth > 8) return MakeError(ErrorCode::kInternal, "redis: reply nested too deeply");
  switch (r->type) {
    case REDIS_REPLY_NIL:
      out.type = RedisReply::Type::kNil;
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      return out;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str ? r->str : "", r->str ? r->len : 0);
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        auto e = Convert(r->element[i], depth + 1);
        if (!e.ok()) return e.error();
        out.elements.push_back(std::move(*e));
      }
      return out;
    case REDIS_REPLY_ERROR: {
      std::string msg(r->str ? r->str : "", r->str ? r->len : 0);
      if (msg.size() > 200) msg.resize(200);
      for (const char* transient : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN"}) {
        if (msg.rfind(transient, 0) == 0) return Unavailable(msg);
      }
      return MakeError(ErrorCode::kInternal, "redis: " + msg);
    }
    default:
      return MakeError(ErrorCode::kInternal, "redis: unexpected reply type");
  }
}

std::string Sha1Hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

}  // namespace

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  auto bad = [] {
    return MakeError(ErrorCode::kInvalidArgument, "redis URL must be redis://host:port[/db]");
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad();
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = cred.find(':');
    if (colon == std::string_view::npos) {
      out.password = std::string(cred);
    } else {
      out.user = std::string(cred.substr(0, colon));
      out.password = std::string(cred.substr(colon + 1));
    }
  }
  std::string_view hostport = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 1 << 20, &out.db)) return bad();
  }
  if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    if (!ParseInt(hostport.substr(colon + 1), 1, 65535, &out.port)) return bad();
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty() || hostport.size() > 255) return bad();
  out.host = std::string(hostport);
  return out;
}

RedisScript::RedisScript(std::string source)
    : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

RedisClient::RedisClient(RedisUrl url, RedisOptions options)
    : url_(std::move(url)), options_(options) {
  int n = std::max(1, options_.pool_size);
  for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
}

RedisClient::~RedisClient() {
  for (auto& s : slots_) {
    std::lock_guard lock(s->mu);
    Drop(*s);
  }
}

RedisClient::Slot& RedisClient::Acquire(std::unique_lock<std::mutex>& lock) {
  size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = *slots_[(start + i) % slots_.size()];
    std::unique_lock<std::mutex> l(s.mu, std::try_to_lock);
    if (l.owns_lock()) {
      lock = std::move(l);
      return s;
    }
  }
  Slot& s = *slots_[start % slots_.size()];
  lock = std::unique_lock<std::mutex>(s.mu);
  return s;
}

void RedisClient::Drop(Slot& s) {
  if (s.ctx) redisFree(s.ctx);
  s.ctx = nullptr;
}

Status RedisClient::EnsureConnected(Slot& s) {
  if (s.ctx) return OkStatus();
  auto now = std::chrono::steady_clock::now();
  if (now < s.retry_at) return Unavailable("not connected (waiting to reconnect)");
  s.retry_at = now + std::chrono::milliseconds(options_.reconnect_backoff_ms);
  redisContext* c = redisConnectWithTimeout(url_.host.c_str(), url_.port,
                                            ToTimeval(options_.connect_timeout_ms));
  if (!c) return Unavailable("out of memory");
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    return Unavailable("connect to " + url_.host + ":" + std::to_string(url_.port) + ": " + why);
  }
  if (redisSetTimeout(c, ToTimeval(options_.command_timeout_ms)) != REDIS_OK) {
    redisFree(c);
    return Unavailable("cannot set timeout");
  }
  redisEnableKeepAlive(c);
  s.ctx = c;
  int io = kNoError;
  if (!url_.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!url_.user.empty()) auth.push_back(url_.user);
    auth.push_back(url_.password);
    auto r = RunOnce(s, auth, &io);
    if (!r.ok()) {
      Drop(s);
      // The reply is not echoed: it could quote the secret.
      return Unavailable("authentication failed");
    }
  }
  if (url_.db != 0) {
    std::string db = std::to_string(url_.db);
    auto r = RunOnce(s, {"SELECT", db}, &io);
    if (!r.ok()) {
      Error e = r.error();
      Drop(s);
      return e;
    }
  }
  return OkStatus();
}

Result<RedisReply> RedisClient::RunOnce(Slot& s, const std::vector<std::string_view>& argv,
                                        int* io_error) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(s.ctx, static_cast<int>(args.size()), args.data(), lens.data()));
  if (!reply) {
    // The context is unusable after any I/O or protocol error.
    std::string why = s.ctx->errstr;
    *io_error = s.ctx->err == REDIS_ERR_EOF ? kEof : kIo;
    Drop(s);
    return Unavailable(why.empty() ? "connection lost" : why);
  }
  auto out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string_view>& argv,
                                        bool idempotent) {
  if (argv.empty()) return MakeError(ErrorCode::kInternal, "redis: empty command");
  std::unique_lock<std::mutex> lock;
  Slot& s = Acquire(lock);
  bool was_connected = s.ctx != nullptr;
  if (Status st = EnsureConnected(s); !st.ok()) return st.error();
  int io = kNoError;
  auto r = RunOnce(s, argv, &io);
  // A pooled connection may have died while idle (Redis restarted): one retry on a fresh one.
  // A command that met EOF was never run; one that timed out may have been, so only idempotent
  // ones are retried then.
  if (was_connected && (io == kEof || (io == kIo && idempotent))) {
    s.retry_at = {};
    if (Status st = EnsureConnected(s); !st.ok()) return st.error();
    r = RunOnce(s, argv, &io);
  }
  return r;
}

Result<RedisReply> RedisClient::Eval(const RedisScript& script,
                                     const std::vector<std::string_view>& keys,
                                     const std::vector<std::string_view>& args, bool idempotent) {
  std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv{"EVALSHA", script.sha1(), nkeys};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Command(argv, idempotent);
  if (!r.ok() && r.error().message.find("NOSCRIPT") != std::string::npos) {
    argv[0] = "EVAL";
    argv[1] = script.source();
    r = Command(argv, idempotent);
  }
  return r;
}

Status RedisClient::Ping() {
  auto r = Command({"PING"});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kString || r->str != "PONG") {
    return Unavailable("unexpected PING reply");
  }
  return OkStatus();
}

}  // namespace parley::storage::redis
