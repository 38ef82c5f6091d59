#include "sdk/api/live_connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <random>

#include "common/log.h"
#include "sdk/api/api_errors.h"
#include "sdk/api/api_types.h"

namespace parley::sdk {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// One connection attempt: its io_context (run by the connection's thread), its WebSocket, and
// the heartbeat timer. Touched only on that thread, except `ioc` and `ws` which other threads
// reach through post() while holding mu_ and session_ is set.
struct LiveConnection::Session {
  asio::io_context ioc;
  std::shared_ptr<net::WsClient> ws;
  asio::steady_timer ping_timer{ioc};
  Clock::time_point last_write = Clock::now();
  Error closed_error = MakeError(ErrorCode::kUnavailable, "disconnected");
  int http_status = 0;
  bool ready = false;
};

namespace {
LiveConnection::Answer ErrorAnswer(ErrorCode code, std::string msg) {
  return MakeError(code, std::move(msg));
}

std::shared_future<LiveConnection::Answer> Ready(LiveConnection::Answer a) {
  std::promise<LiveConnection::Answer> p;
  p.set_value(std::move(a));
  return p.get_future().share();
}
}  // namespace

LiveConnection::LiveConnection(ApiClient& api, LiveOptions options)
    : api_(api), opts_(options) {}

LiveConnection::~LiveConnection() { Stop(); }

void LiveConnection::SetFrameCallback(FrameCallback cb) { frame_cb_ = std::move(cb); }
void LiveConnection::SetStateCallback(StateCallback cb) { state_cb_ = std::move(cb); }

Result<Unit> LiveConnection::Start() {
  std::lock_guard lock(mu_);
  if (started_) return MakeError(ErrorCode::kInvalidArgument, "already started");
  started_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Unit{};
}

void LiveConnection::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
    if (session_) {
      Session* s = session_;
      asio::post(s->ioc, [s] {
        if (s->ws) s->ws->Close();
        // A server that does not finish the closing handshake is not waited for long.
        s->ping_timer.expires_after(std::chrono::seconds(2));
        s->ping_timer.async_wait([s](boost::system::error_code) { s->ioc.stop(); });
      });
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  FailInFlight(MakeError(ErrorCode::kUnavailable, "the connection was stopped"), true);
  std::lock_guard lock(mu_);
  started_ = false;
  connected_ = false;
}

bool LiveConnection::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

size_t LiveConnection::pending_sends() const {
  std::lock_guard lock(mu_);
  return pending_sends_.size();
}

int LiveConnection::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

std::shared_future<LiveConnection::Answer> LiveConnection::Send(json::object frame) {
  std::string type = JStr(frame, "type");
  if (type.empty()) return Ready(ErrorAnswer(ErrorCode::kInvalidArgument, "frame has no type"));
  std::lock_guard lock(mu_);
  if (!started_ || stopping_)
    return Ready(ErrorAnswer(ErrorCode::kUnavailable, "the connection is not running"));
  if (type != "send" && !connected_)
    return Ready(ErrorAnswer(ErrorCode::kUnavailable, "not connected"));
  std::string ref = "r" + std::to_string(++next_ref_);
  if (type == "typing") {
    frame.erase("ref");  // no answer comes
  } else {
    frame["ref"] = ref;
  }
  auto req = std::make_shared<Request>();
  req->type = type;
  req->text = json::serialize(frame);
  auto future = req->promise.get_future().share();
  if (type == "typing") {
    req->promise.set_value(json::object{});
  } else {
    requests_[ref] = req;
    if (type == "send") pending_sends_.push_back(ref);
  }
  if (connected_ && session_) {
    Session* s = session_;
    asio::post(s->ioc, [this, s, text = req->text] { WriteNow(*s, text); });
  }
  return future;
}

LiveConnection::Answer LiveConnection::SendAndWait(json::object frame,
                                                   std::chrono::milliseconds timeout) {
  auto f = Send(std::move(frame));
  if (f.wait_for(timeout) != std::future_status::ready)
    return ErrorAnswer(ErrorCode::kUnavailable, "no answer in time");
  return f.get();
}

void LiveConnection::WriteNow(Session& s, const std::string& text) {
  if (!s.ws) return;
  s.ws->Send(text);
  s.last_write = Clock::now();
}

void LiveConnection::FailInFlight(const Error& e, bool include_sends) {
  std::vector<std::shared_ptr<Request>> failed;
  {
    std::lock_guard lock(mu_);
    for (auto it = requests_.begin(); it != requests_.end();) {
      if (it->second->type == "send" && !include_sends) {
        ++it;
        continue;
      }
      failed.push_back(it->second);
      it = requests_.erase(it);
    }
    if (include_sends) pending_sends_.clear();
  }
  for (auto& r : failed) r->promise.set_value(e);
}

void LiveConnection::Loop() {
  auto backoff = opts_.initial_backoff;
  std::mt19937_64 rng(std::random_device{}());
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    Error why = MakeError(ErrorCode::kUnavailable, "disconnected");
    bool reached_ready = false;
    auto token = api_.FreshAccessToken();
    if (!token.ok()) {
      why = token.error();
    } else {
      int http_status = 0;
      why = RunSession(*token, &http_status, &reached_ready);
      if (http_status == 401) (void)api_.RefreshAfterReject(*token);
    }
    {
      std::lock_guard lock(mu_);
      connected_ = false;
    }
    FailInFlight(why, false);
    if (reached_ready) {
      backoff = opts_.initial_backoff;
      if (state_cb_) state_cb_(false, why);
    } else if (why.code == ErrorCode::kUnauthenticated && state_cb_) {
      state_cb_(false, why);  // the session has ended: the UI should ask for a login
    }
    LogDebug("live connection down", {{"error", why.message}});
    auto half = backoff / 2;
    std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(0, half.count()));
    WaitBackoff(half + std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, opts_.max_backoff);
  }
}

void LiveConnection::WaitBackoff(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_; });
}

Error LiveConnection::RunSession(const std::string& token, int* http_status,
                                 bool* reached_ready) {
  Session s;
  s.ws = net::WsClient::Create(s.ioc, api_.base_url(), opts_.ws);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "stopped");
    session_ = &s;
  }
  net::WsClient::Callbacks cb;
  cb.on_text = [this, &s](std::string text) { OnText(s, std::move(text)); };
  cb.on_closed = [&s](Error e, int status) {
    s.closed_error = std::move(e);
    s.http_status = status;
    s.ioc.stop();
  };
  s.ws->Start("/v1/ws", {{"Authorization", "Bearer " + token}}, std::move(cb));

  // Heartbeat: a `ping` frame when nothing was written for ping_interval.
  std::function<void()> arm = [&] {
    s.ping_timer.expires_after(opts_.ping_interval);
    s.ping_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (s.ready && Clock::now() - s.last_write >= opts_.ping_interval)
        WriteNow(s, R"({"type":"ping"})");
      arm();
    });
  };
  arm();
  s.ioc.run();

  {
    std::lock_guard lock(mu_);
    session_ = nullptr;
    connected_ = false;
  }
  // Handlers still queued (writes posted by Send) are dropped with the io_context; the sends
  // among them stay pending and are replayed on the next connection.
  s.ws.reset();
  *http_status = s.http_status;
  *reached_ready = s.ready;
  return s.closed_error;
}

void LiveConnection::OnReady(Session& s) {
  std::vector<std::string> replay;
  {
    std::lock_guard lock(mu_);
    s.ready = true;
    connected_ = true;
    ++connections_;
    for (const auto& ref : pending_sends_) {
      auto it = requests_.find(ref);
      if (it != requests_.end()) replay.push_back(it->second->text);
    }
  }
  for (const auto& text : replay) WriteNow(s, text);
  if (state_cb_) state_cb_(true, Error{});
}

void LiveConnection::OnText(Session& s, std::string text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    LogWarn("live connection: a frame that is not a JSON object");
    return;
  }
  const json::object& frame = v.get_object();
  std::string type = JStr(frame, "type");
  if (type == "ready") OnReady(s);
  std::string ref = JStr(frame, "ref");
  if (!ref.empty() && (type == "ack" || type == "error" || type == "pong")) {
    std::shared_ptr<Request> req;
    {
      std::lock_guard lock(mu_);
      auto it = requests_.find(ref);
      if (it != requests_.end()) {
        req = it->second;
        requests_.erase(it);
        if (req->type == "send") std::erase(pending_sends_, ref);
      }
    }
    if (req) {
      if (type == "error") {
        Error e{ErrorCode::kInternal, "error", 0};
        if (const auto* err = JObj(frame, "error")) {
          e.code = ErrorCodeFromName(JStr(*err, "code")).value_or(ErrorCode::kInternal);
          e.message = JStr(*err, "message");
        }
        req->promise.set_value(std::move(e));
      } else {
        req->promise.set_value(frame);
      }
    }
  }
  if (frame_cb_) frame_cb_(frame);
}

}  // namespace parley::sdk
