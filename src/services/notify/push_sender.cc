#include "services/notify/push_sender.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include "common/log.h"

namespace parley::services {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct PushSender::Pending {
  std::string device_id;
  std::string endpoint;
  boost::json::object payload;
  bool dirty = true;  // a payload not yet delivered
};

PushSender::PushSender(PushOptions options, Metrics& metrics)
    : options_(options),
      tls_(asio::ssl::context::tls_client),
      sent_(metrics.Counter("parley_push_sent_total", "Push POSTs answered 2xx")),
      failed_(metrics.Counter("parley_push_failed_total", "Pushes given up after retries")),
      dropped_(metrics.Counter("parley_push_dropped_total", "Pushes dropped: queue full")),
      refused_(metrics.Counter("parley_push_refused_total",
                               "Pushes refused: the endpoint resolves only to addresses that are "
                               "neither public nor in --push-allow-networks")) {
  boost::system::error_code ec;
  tls_.set_default_verify_paths(ec);
  tls_.set_verify_mode(asio::ssl::verify_peer);
}

PushOptions PushOptions::From(const Config& cfg) {
  PushOptions o;
  o.max_attempts = cfg.push_max_attempts;
  o.retry_base_ms = cfg.push_retry_base_ms;
  for (const auto& n : cfg.push_allow_networks)
    if (auto parsed = ParseNetwork(n); parsed.ok()) o.allow.push_back(*parsed);
  return o;
}

PushSender::~PushSender() { Stop(); }

void PushSender::Start() {
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void PushSender::Stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void PushSender::Enqueue(std::string device_id, std::string endpoint, boost::json::object payload) {
  asio::post(io_, [this, device_id = std::move(device_id), endpoint = std::move(endpoint),
                   payload = std::move(payload)]() mutable {
    auto it = pending_.find(device_id);
    if (it != pending_.end()) {  // coalesce into the queued push
      it->second->endpoint = std::move(endpoint);
      it->second->payload = std::move(payload);
      it->second->dirty = true;
      return;
    }
    if (pending_.size() >= options_.max_queue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto p = std::make_shared<Pending>(Pending{device_id, std::move(endpoint), std::move(payload)});
    pending_.emplace(device_id, p);
    asio::co_spawn(io_, Deliver(p), asio::detached);
  });
}

asio::awaitable<void> PushSender::Deliver(std::shared_ptr<Pending> p) {
  int attempt = 0;
  while (p->dirty) {
    p->dirty = false;
    std::string body = boost::json::serialize(p->payload);
    int status = -1;
    try {
      status = co_await PostOnce(p->endpoint, body);
    } catch (const std::exception& e) {
      LogWarn("push failed", {{"device_id", p->device_id}, {"error", e.what()}});
    }
    if (status == kRefused) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      LogWarn("push endpoint refused: no public or allowed address",
              {{"device_id", p->device_id}});
      break;
    }
    if (status >= 200 && status < 300) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      attempt = 0;
      continue;  // deliver a newer payload if one arrived meanwhile
    }
    if (status == 404 || status == 410) {
      LogInfo("push endpoint gone", {{"device_id", p->device_id}, {"status", status}});
      if (on_gone_) on_gone_(p->device_id);
      break;
    }
    bool retryable = status < 0 || status >= 500 || status == 408 || status == 429;
    if (!retryable || ++attempt >= options_.max_attempts) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      LogWarn("push given up", {{"device_id", p->device_id}, {"status", status}, {"attempts", attempt}});
      break;
    }
    p->dirty = true;
    asio::steady_timer t(io_, std::chrono::milliseconds(static_cast<int64_t>(options_.retry_base_ms)
                                                        << (2 * (attempt - 1))));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  pending_.erase(p->device_id);
}

asio::awaitable<int> PushSender::PostOnce(const std::string& endpoint, const std::string& body) {
  auto url = boost::urls::parse_absolute_uri(endpoint);
  if (!url) co_return -1;
  bool tls = url->scheme() == "https";
  // The address or name to resolve (an IPv6 literal without its brackets); the Host header and
  // the TLS name keep the URL's form.
  std::string address = url->host_address();
  std::string host(url->encoded_host());
  std::string port = url->has_port() ? std::string(url->port()) : (tls ? "443" : "80");
  std::string target(url->encoded_target());
  if (target.empty()) target = "/";
  auto timeout = std::chrono::milliseconds(options_.timeout_ms);

  tcp::resolver resolver(io_);
  auto [rec, resolved] =
      co_await resolver.async_resolve(address, port, asio::as_tuple(asio::use_awaitable));
  if (rec) co_return -1;
  // Only to the addresses checked here (the connection uses this list, not a second lookup).
  std::vector<tcp::endpoint> results;
  for (const auto& r : resolved)
    if (MayReach(r.endpoint().address())) results.push_back(r.endpoint());
  if (results.empty()) co_return kRefused;

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "parleyd-push/1");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  beast::flat_buffer buffer;

  if (tls) {
    beast::ssl_stream<beast::tcp_stream> stream(io_, tls_);
    // SNI names a host, never an address; the certificate is checked against either.
    if (url->host_type() == boost::urls::host_type::name &&
        !SSL_set_tlsext_host_name(stream.native_handle(), address.c_str())) {
      co_return -1;
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(address));
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [cec, ep] = co_await beast::get_lowest_layer(stream).async_connect(
        results, asio::as_tuple(asio::use_awaitable));
    if (cec) co_return -1;
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                                 asio::as_tuple(asio::use_awaitable));
    if (hec) co_return -1;
    auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    if (wec) co_return -1;
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return -1;
    co_return static_cast<int>(parser.get().result_int());
  }
  beast::tcp_stream stream(io_);
  stream.expires_after(timeout);
  auto [cec, ep] = co_await stream.async_connect(results, asio::as_tuple(asio::use_awaitable));
  if (cec) co_return -1;
  auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) co_return -1;
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return -1;
  boost::system::error_code sec;
  stream.socket().shutdown(tcp::socket::shutdown_both, sec);
  co_return static_cast<int>(parser.get().result_int());
}

}  // namespace parley::services
