// OsHttp: connection pool and one request/response exchange with deadlines.
#include "storage/opensearch/os_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace parley::storage::opensearch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr size_t kMaxResponseBytes = 64u << 20;
}  // namespace

struct OsHttp::Conn {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
};

OsHttp::OsHttp(std::string host, int port, int timeout_ms, size_t max_idle)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms), max_idle_(max_idle) {}

OsHttp::~OsHttp() = default;

Result<OsHttpResponse> OsHttp::Send(const std::string& method, const std::string& target,
                                    const std::string& body, const char* content_type) {
  std::unique_ptr<Conn> c;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  bool pooled = c != nullptr;
  if (!c) c = std::make_unique<Conn>();
  bool reusable = false;
  auto r = SendOnce(*c, method, target, body, content_type, &reusable);
  if (!r.ok() && pooled) {  // the node may have closed an idle connection: once more, fresh
    c = std::make_unique<Conn>();
    r = SendOnce(*c, method, target, body, content_type, &reusable);
  }
  if (r.ok() && reusable) {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(c));
  }
  return r;
}

Result<OsHttpResponse> OsHttp::SendOnce(Conn& c, const std::string& method,
                                        const std::string& target, const std::string& body,
                                        const char* content_type, bool* reusable) {
  *reusable = false;
  auto timeout = std::chrono::milliseconds(timeout_ms_);
  auto fail = [this](const std::string& what, const beast::error_code& ec) -> Error {
    return MakeError(ErrorCode::kUnavailable, "OpenSearch at " + host_ + ":" +
                                                  std::to_string(port_) + ": " + what + ": " +
                                                  ec.message());
  };
  beast::error_code ec;
  if (!c.connected) {
    tcp::resolver resolver(c.ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(host_, std::to_string(port_),
                           [&](beast::error_code e, tcp::resolver::results_type res) {
                             ec = e;
                             endpoints = std::move(res);
                           });
    c.ioc.restart();
    c.ioc.run_for(timeout);
    if (ec || endpoints.empty()) return fail("resolve", ec);
    c.stream.expires_after(timeout);
    c.stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    c.ioc.restart();
    c.ioc.run();
    if (ec) return fail("connect", ec);
    c.connected = true;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.keep_alive(true);
  if (!body.empty()) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  c.stream.expires_after(timeout);
  http::async_write(c.stream, req, [&](beast::error_code e, size_t) { ec = e; });
  c.ioc.restart();
  c.ioc.run();
  if (ec) return fail("write", ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  c.stream.expires_after(timeout);
  http::async_read(c.stream, c.buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  c.ioc.restart();
  c.ioc.run();
  if (ec) return fail("read", ec);
  auto res = parser.release();
  *reusable = res.keep_alive();
  return OsHttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

Error OsUnavailable(const std::string& what) { return MakeError(ErrorCode::kUnavailable, what); }

Error OsRefused(const std::string& what, const OsHttpResponse& r) {
  std::string body = r.body.substr(0, 300);
  return OsUnavailable("OpenSearch refused " + what + " (HTTP " + std::to_string(r.status) +
                       "): " + body);
}

Result<boost::json::value> OsParseBody(const std::string& what, const OsHttpResponse& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return OsUnavailable("OpenSearch answered " + what + " with non-JSON");
  return v;
}

Result<std::vector<int>> OsBulk(OsHttp& http, const std::string& target, const std::string& body,
                                size_t expected_items, const std::string& what) {
  auto r = http.Send("POST", target, body, "application/x-ndjson");
  if (!r.ok()) return r.error();
  if (r->status != 200) return OsRefused(what, *r);
  auto v = OsParseBody(what, *r);
  if (!v.ok()) return v.error();
  const auto* items = v->as_object().if_contains("items");
  if (!items || !items->is_array() || items->as_array().size() != expected_items)
    return OsUnavailable("OpenSearch answered " + what + " without one item per action");
  std::vector<int> out;
  out.reserve(expected_items);
  for (const auto& item : items->as_array()) {
    // {"create": {...}} or {"index": {...}}: one key, the action.
    const auto* op = item.is_object() && !item.as_object().empty()
                         ? &item.as_object().begin()->value()
                         : nullptr;
    const auto* st = op && op->is_object() ? op->as_object().if_contains("status") : nullptr;
    out.push_back(st && st->is_int64() ? static_cast<int>(st->as_int64()) : 0);
  }
  return out;
}

std::string OsIndexDate(int64_t at_ms, bool with_day) {
  std::time_t t = static_cast<std::time_t>(at_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  if (with_day) {
    std::snprintf(buf, sizeof buf, "%04d.%02d.%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  } else {
    std::snprintf(buf, sizeof buf, "%04d.%02d", tm.tm_year + 1900, tm.tm_mon + 1);
  }
  return buf;
}

}  // namespace parley::storage::opensearch
