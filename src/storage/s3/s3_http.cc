#include "storage/s3/s3_http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace parley::storage::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Conn {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
};

namespace {

// Starts one asynchronous operation and runs the connection's io_context until it completes
// (the stream's deadline, if set, ends it with beast::error::timeout).
template <typename Start>
beast::error_code RunOp(asio::io_context& ioc, Start&& start) {
  beast::error_code out;
  start([&out](beast::error_code ec, auto&&...) { out = ec; });
  ioc.restart();
  ioc.run();
  return out;
}

Error Unreachable(std::string_view what, const beast::error_code& ec) {
  return MakeError(ErrorCode::kUnavailable,
                   "object store: " + std::string(what) + ": " + ec.message());
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

HttpClient::HttpClient(std::string host, int port, HttpOptions options)
    : host_(std::move(host)), port_(port), options_(options) {}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Send(const HttpRequest& req, size_t body_limit) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Conn> c;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty() && attempt == 0) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool pooled = c != nullptr;
    if (!c) c = std::make_unique<Conn>();
    bool reusable = false;
    auto res = SendOnce(*c, req, body_limit, &reusable);
    if (!res.ok() && pooled) continue;  // a stale keep-alive connection: once more, afresh
    if (res.ok() && reusable) {
      std::lock_guard lock(mu_);
      if (idle_.size() < options_.max_idle) idle_.push_back(std::move(c));
    }
    return res;
  }
}

Result<HttpResponse> HttpClient::SendOnce(Conn& c, const HttpRequest& req, size_t body_limit,
                                          bool* reusable) {
  if (!c.connected) {
    tcp::resolver resolver(c.ioc);
    tcp::resolver::results_type endpoints;
    beast::error_code rec;
    resolver.async_resolve(host_, std::to_string(port_),
                           [&](beast::error_code ec, tcp::resolver::results_type r) {
                             rec = ec;
                             endpoints = std::move(r);
                           });
    c.ioc.restart();
    if (c.ioc.run_for(std::chrono::milliseconds(options_.connect_timeout_ms)) == 0 ||
        !c.ioc.stopped()) {
      resolver.cancel();
      c.ioc.restart();
      c.ioc.run();
      if (!rec) rec = beast::error::timeout;
    }
    if (rec) return Unreachable("cannot resolve " + host_, rec);
    c.stream.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    if (auto ec = RunOp(c.ioc, [&](auto h) { c.stream.async_connect(endpoints, std::move(h)); }))
      return Unreachable("cannot connect to " + host_ + ":" + std::to_string(port_), ec);
    c.connected = true;
  }

  http::verb verb = http::string_to_verb(req.method);
  http::request<http::string_body> r{verb, req.target, 11};
  r.set(http::field::host, host_ + ":" + std::to_string(port_));
  for (const auto& [k, v] : req.headers) r.set(k, v);
  r.body() = req.body;
  r.prepare_payload();
  if ((verb == http::verb::put || verb == http::verb::post) && req.body.empty())
    r.set(http::field::content_length, "0");
  r.keep_alive(true);

  c.stream.expires_after(std::chrono::milliseconds(options_.io_timeout_ms));
  if (auto ec = RunOp(c.ioc, [&](auto h) { http::async_write(c.stream, r, std::move(h)); })) {
    c.connected = false;
    return Unreachable("cannot send", ec);
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  if (verb == http::verb::head) parser.skip(true);  // a HEAD answer has headers only
  c.stream.expires_after(std::chrono::milliseconds(options_.io_timeout_ms));
  if (auto ec = RunOp(c.ioc, [&](auto h) {
        http::async_read(c.stream, c.buffer, parser, std::move(h));
      })) {
    c.connected = false;
    return Unreachable("cannot read the answer", ec);
  }
  c.stream.expires_never();
  auto& msg = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& ch : name) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = std::move(msg.body());
  *reusable = msg.keep_alive();
  if (!*reusable) c.connected = false;
  return out;
}

}  // namespace parley::storage::s3
