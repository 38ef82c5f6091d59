#include "storage/cassandra/cql_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/log.h"

namespace parley::storage::cassandra {

namespace {

using Clock = std::chrono::steady_clock;

Error Unavailable(std::string what) { return MakeError(ErrorCode::kUnavailable, "cql: " + std::move(what)); }

std::string PercentDecode(std::string_view s, bool* ok) {
  std::string out;
  *ok = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = i + 1 < s.size() ? hex(s[i + 1]) : -1, lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) { *ok = false; return {}; }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits until fd is ready for `events` or the deadline passes.
Status WaitFd(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    int ms = RemainingMs(deadline);
    if (ms == 0) return Unavailable(std::string(what) + " timed out");
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return OkStatus();
    if (r == 0) return Unavailable(std::string(what) + " timed out");
    if (errno != EINTR) return Unavailable(std::string(what) + ": " + std::strerror(errno));
  }
}

}  // namespace

Result<CqlUrl> ParseCqlUrl(std::string_view s) {
  constexpr std::string_view kScheme = "cassandra://";
  if (s.substr(0, kScheme.size()) != kScheme)
    return MakeError(ErrorCode::kInvalidArgument, "a Cassandra URL starts with cassandra://");
  s.remove_prefix(kScheme.size());
  CqlUrl u;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    u.keyspace = std::string(s.substr(slash + 1));
    s = s.substr(0, slash);
    for (char c : u.keyspace) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      if (!ok || u.keyspace.size() > 48)
        return MakeError(ErrorCode::kInvalidArgument,
                         "a Cassandra keyspace is 1-48 characters of [a-z0-9_]");
    }
  }
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    auto cred = s.substr(0, at);
    s = s.substr(at + 1);
    auto colon = cred.find(':');
    bool ok1 = true, ok2 = true;
    u.user = PercentDecode(cred.substr(0, colon), &ok1);
    if (colon != std::string_view::npos) u.password = PercentDecode(cred.substr(colon + 1), &ok2);
    if (!ok1 || !ok2) return MakeError(ErrorCode::kInvalidArgument, "bad percent-encoding in the Cassandra URL's credentials");
    if (u.user.empty()) return MakeError(ErrorCode::kInvalidArgument, "the Cassandra URL names a password without a user");
  }
  if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    auto port = s.substr(colon + 1);
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      return MakeError(ErrorCode::kInvalidArgument, "the Cassandra URL's port is not 1-65535");
    u.port = p;
    s = s.substr(0, colon);
  }
  if (s.empty()) return MakeError(ErrorCode::kInvalidArgument, "the Cassandra URL names no host");
  u.host = std::string(s);
  return u;
}

// --- rows ---------------------------------------------------------------------------------------

int CqlRows::Column(std::string_view name) const {
  const auto& cols = columns();
  for (size_t i = 0; i < cols.size(); ++i)
    if (cols[i].name == name) return static_cast<int>(i);
  return -1;
}

bool CqlRows::IsNull(size_t row, size_t col) const {
  return row >= size() || col >= columns().size() || !body_.rows[row][col].has_value();
}

Result<std::string_view> CqlRows::Cell(size_t row, size_t col) const {
  if (row >= size() || col >= columns().size())
    return MakeError(ErrorCode::kInvalidArgument, "cql: no such row or column");
  const auto& cell = body_.rows[row][col];
  if (!cell) return MakeError(ErrorCode::kNotFound, "cql: null cell");
  return std::string_view(*cell);
}

Result<std::string> CqlRows::Text(size_t row, size_t col) const {
  auto c = Cell(row, col);
  if (!c.ok()) return c.error();
  return DecodeText(columns()[col].type, *c);
}
Result<int64_t> CqlRows::Bigint(size_t row, size_t col) const {
  auto c = Cell(row, col);
  if (!c.ok()) return c.error();
  return DecodeBigint(columns()[col].type, *c);
}
Result<bool> CqlRows::Bool(size_t row, size_t col) const {
  auto c = Cell(row, col);
  if (!c.ok()) return c.error();
  return DecodeBool(columns()[col].type, *c);
}
Result<std::string> CqlRows::Uuid(size_t row, size_t col) const {
  auto c = Cell(row, col);
  if (!c.ok()) return c.error();
  return DecodeUuid(columns()[col].type, *c);
}
Result<std::vector<std::string>> CqlRows::TextList(size_t row, size_t col) const {
  auto c = Cell(row, col);
  if (!c.ok()) {
    if (c.error().code == ErrorCode::kNotFound) return std::vector<std::string>();  // empty collection
    return c.error();
  }
  return DecodeTextList(columns()[col].type, *c);
}

// --- connections --------------------------------------------------------------------------------

struct CqlClient::Slot {
  std::mutex mu;
  int fd = -1;                 // guarded by mu; -1 when disconnected
  Clock::time_point retry_at;  // guarded by mu: no connect before this
  int16_t stream = 0;          // guarded by mu

  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

CqlClient::CqlClient(CqlUrl url, CqlOptions options) : url_(std::move(url)), options_(options) {
  int n = options_.pool_size < 1 ? 1 : options_.pool_size;
  for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
}

CqlClient::~CqlClient() {
  for (auto& s : slots_) {
    std::lock_guard lock(s->mu);
    s->Close();
  }
}

CqlClient::Slot& CqlClient::Acquire(std::unique_lock<std::mutex>& lock) {
  size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = *slots_[(start + i) % slots_.size()];
    std::unique_lock l(s.mu, std::try_to_lock);
    if (l.owns_lock()) {
      lock = std::move(l);
      return s;
    }
  }
  Slot& s = *slots_[start % slots_.size()];
  lock = std::unique_lock(s.mu);
  return s;
}

Status CqlClient::EnsureConnected(Slot& s) {
  if (s.fd >= 0) return OkStatus();
  if (Clock::now() < s.retry_at) return Unavailable("not connected (waiting to reconnect)");
  auto fail = [&](Error e) {
    s.Close();
    s.retry_at = Clock::now() + std::chrono::milliseconds(options_.reconnect_backoff_ms);
    return e;
  };
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(url_.port);
  if (int rc = ::getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(Unavailable("cannot resolve " + url_.host + ": " + gai_strerror(rc)));
  Error last = Unavailable("no address for " + url_.host);
  for (addrinfo* a = res; a && s.fd < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      Status w = WaitFd(fd, POLLOUT, deadline, "connect");
      int err = 0;
      socklen_t len = sizeof err;
      if (w.ok() && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) rc = 0;
      else last = w.ok() ? Unavailable("connect to " + url_.host + ":" + port + ": " + std::strerror(err)) : w.error();
    } else if (rc != 0) {
      last = Unavailable("connect to " + url_.host + ":" + port + ": " + std::strerror(errno));
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      s.fd = fd;
    } else {
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (s.fd < 0) return fail(last);

  // STARTUP, then the authenticator's exchange if the server asks for one.
  bool io = false;
  BodyWriter startup;
  startup.StringMap({{"CQL_VERSION", "3.0.0"}});
  auto reply = RoundTrip(s, Opcode::kStartup, startup.str(), &io);
  if (!reply.ok()) return fail(reply.error());
  if (reply->first == Opcode::kAuthenticate) {
    if (url_.user.empty())
      return fail(MakeError(ErrorCode::kUnauthenticated,
                            "cql: the server requires a login; put user:password in the URL"));
    std::string token;
    token.push_back('\0');
    token += url_.user;
    token.push_back('\0');
    token += url_.password;
    BodyWriter auth;
    auth.Bytes(token);
    reply = RoundTrip(s, Opcode::kAuthResponse, auth.str(), &io);
    if (!reply.ok()) return fail(reply.error());
    if (reply->first == Opcode::kError) return fail(DecodeError(reply->second));
    if (reply->first != Opcode::kAuthSuccess)
      return fail(MakeError(ErrorCode::kInternal, "cql: unexpected answer to AUTH_RESPONSE"));
  } else if (reply->first == Opcode::kError) {
    return fail(DecodeError(reply->second));
  } else if (reply->first != Opcode::kReady) {
    return fail(MakeError(ErrorCode::kInternal, "cql: unexpected answer to STARTUP"));
  }
  return OkStatus();
}

Result<std::pair<Opcode, std::string>> CqlClient::RoundTrip(Slot& s, Opcode op,
                                                            std::string_view body, bool* io_error) {
  auto broken = [&](Error e) {
    *io_error = true;
    s.Close();
    s.retry_at = Clock::now();  // reconnect at once on next use
    return e;
  };
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
  s.stream = static_cast<int16_t>((s.stream + 1) & 0x7fff);
  const int16_t stream = s.stream;
  std::string frame = EncodeFrame(stream, op, body);
  for (size_t sent = 0; sent < frame.size();) {
    ssize_t n = ::send(s.fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Status w = WaitFd(s.fd, POLLOUT, deadline, "send"); !w.ok()) return broken(w.error());
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return broken(Unavailable(std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed")));
  }
  auto read_exact = [&](char* out, size_t len) -> Status {
    for (size_t got = 0; got < len;) {
      ssize_t n = ::recv(s.fd, out + got, len - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) return Unavailable("connection closed by the server");
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Unavailable(std::string("recv: ") + std::strerror(errno));
      if (Status w = WaitFd(s.fd, POLLIN, deadline, "request"); !w.ok()) return w;
    }
    return OkStatus();
  };
  for (;;) {  // frames of other streams (none expected: we never REGISTER) are skipped
    std::array<uint8_t, kFrameHeaderSize> hb{};
    if (Status st = read_exact(reinterpret_cast<char*>(hb.data()), hb.size()); !st.ok())
      return broken(st.error());
    auto h = DecodeHeader(hb);
    if (!h.ok()) return broken(h.error());
    std::string resp(h->length, '\0');
    if (Status st = read_exact(resp.data(), resp.size()); !st.ok()) return broken(st.error());
    if (h->stream != stream) continue;
    if (h->flags & 0x08) {  // warnings: a [string list] before the body
      BodyReader r(resp);
      auto n = r.Short();
      if (!n.ok()) return broken(n.error());
      for (int i = 0; i < *n; ++i)
        if (auto w = r.String(); !w.ok()) return broken(w.error());
      resp.erase(0, resp.size() - r.remaining());
    }
    return std::make_pair(h->opcode, std::move(resp));
  }
}

Result<std::pair<Opcode, std::string>> CqlClient::Send(Opcode op, const std::string& body,
                                                       bool idempotent) {
  std::unique_lock<std::mutex> lock;
  Slot& s = Acquire(lock);
  for (int attempt = 0;; ++attempt) {
    const bool was_connected = s.fd >= 0;
    if (Status st = EnsureConnected(s); !st.ok()) return st.error();
    bool io = false;
    auto r = RoundTrip(s, op, body, &io);
    if (r.ok() || !io) return r;
    // A pooled connection broke under us (e.g. the server restarted): once more, fresh.
    if (attempt > 0 || !was_connected || !idempotent) return r.error();
    reconnects_.fetch_add(1, std::memory_order_relaxed);
  }
}

Result<CqlRows> CqlClient::ToRows(Result<std::pair<Opcode, std::string>> reply, int32_t* error_code) {
  if (!reply.ok()) return reply.error();
  if (reply->first == Opcode::kError) return DecodeError(reply->second, error_code);
  if (reply->first != Opcode::kResult)
    return MakeError(ErrorCode::kInternal, "cql: unexpected response opcode");
  auto body = DecodeResult(reply->second);
  if (!body.ok()) return body.error();
  return CqlRows(std::move(*body));
}

namespace {

void WriteParameters(BodyWriter& w, const std::vector<CqlValue>& values, const QueryOptions& o,
                     bool skip_metadata) {
  w.Short(static_cast<uint16_t>(o.consistency));
  uint8_t flags = 0;
  if (!values.empty()) flags |= 0x01;
  if (skip_metadata) flags |= 0x02;
  if (o.page_size > 0) flags |= 0x04;
  if (o.paging_state) flags |= 0x08;
  w.Byte(flags);
  if (!values.empty()) {
    w.Short(static_cast<uint16_t>(values.size()));
    for (const auto& v : values) {
      if (v.bytes) w.Bytes(*v.bytes);
      else w.NullBytes();
    }
  }
  if (o.page_size > 0) w.Int(o.page_size);
  if (o.paging_state) w.Bytes(*o.paging_state);
}

}  // namespace

Status CqlClient::Ping() {
  auto r = Send(Opcode::kOptions, std::string(), true);
  if (!r.ok()) return r.error();
  if (r->first != Opcode::kSupported) return MakeError(ErrorCode::kInternal, "cql: unexpected answer to OPTIONS");
  return OkStatus();
}

Result<CqlRows> CqlClient::Query(std::string_view cql, const std::vector<CqlValue>& values,
                                 const QueryOptions& options) {
  if (values.size() > 0xffff) return MakeError(ErrorCode::kInvalidArgument, "cql: too many values");
  BodyWriter w;
  w.LongString(cql);
  WriteParameters(w, values, options, false);
  return ToRows(Send(Opcode::kQuery, w.str(), options.idempotent), nullptr);
}

Result<std::shared_ptr<const Prepared>> CqlClient::Prepare(std::string_view cql) {
  {
    std::lock_guard lock(prepared_mu_);
    if (auto it = prepared_.find(cql); it != prepared_.end()) return it->second;
  }
  BodyWriter w;
  w.LongString(cql);
  auto reply = Send(Opcode::kPrepare, w.str(), true);
  if (!reply.ok()) return reply.error();
  if (reply->first == Opcode::kError) return DecodeError(reply->second);
  if (reply->first != Opcode::kResult) return MakeError(ErrorCode::kInternal, "cql: unexpected answer to PREPARE");
  auto body = DecodeResult(reply->second);
  if (!body.ok()) return body.error();
  if (body->kind != 4) return MakeError(ErrorCode::kInternal, "cql: PREPARE did not return a statement");
  auto p = std::make_shared<Prepared>();
  p->cql = std::string(cql);
  p->id = std::move(body->prepared_id);
  p->bind = std::move(body->bind_columns);
  p->result = std::move(body->result_metadata.columns);
  std::lock_guard lock(prepared_mu_);
  auto [it, inserted] = prepared_.emplace(p->cql, p);
  return it->second;
}

Result<CqlRows> CqlClient::Execute(const Prepared& statement, const std::vector<CqlValue>& values,
                                   const QueryOptions& options) {
  if (values.size() != statement.bind.size())
    return MakeError(ErrorCode::kInvalidArgument,
                     "cql: " + std::to_string(values.size()) + " values for " +
                         std::to_string(statement.bind.size()) + " markers");
  BodyWriter w;
  w.ShortBytes(statement.id);
  // The server sends the result's columns with every page (skip_metadata is not used: a schema
  // change would otherwise go unnoticed).
  WriteParameters(w, values, options, false);
  for (int attempt = 0;; ++attempt) {
    int32_t code = 0;
    auto rows = ToRows(Send(Opcode::kExecute, w.str(), options.idempotent), &code);
    if (rows.ok() || code != kErrorUnprepared || attempt > 0) return rows;
    // The server forgot the statement (restart): prepare it again, then retry once.
    BodyWriter pw;
    pw.LongString(statement.cql);
    auto again = Send(Opcode::kPrepare, pw.str(), true);
    if (!again.ok()) return again.error();
    if (again->first == Opcode::kError) return DecodeError(again->second);
  }
}

}  // namespace parley::storage::cassandra
