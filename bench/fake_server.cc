// parley-bench-fake-server: a stand-in for parleyd that implements only what the bench uses
// (signup, login, /healthz, and the WebSocket send/ack/message/mark_delivered/receipt flow), in
// memory, on one thread, with no durability. Two uses: testing the generator without a server,
// and measuring the generator's own ceiling (docs/benchmarks.md), which bounds every figure.
// It is not a reference for the server and trusts its input; never expose it.
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ws = beast::websocket;
namespace json = boost::json;
using asio::ip::tcp;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

namespace {

struct Session;
struct State {
  std::map<std::string, std::string> user_by_name;  // username -> user_id
  std::map<std::string, std::weak_ptr<Session>> online;          // user_id -> session
  std::map<std::string, int64_t> seq;               // conversation_id -> last seq
  uint64_t next_id = 1;
  std::string NewId() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(next_id++));
    return buf;
  }
};

struct Session {
  ws::stream<tcp::socket> stream;
  std::string user_id;
  std::deque<std::string> out;
  bool writing = false;
  explicit Session(tcp::socket s) : stream(std::move(s)) {}
  void Send(std::string frame, std::shared_ptr<Session> self) {
    out.push_back(std::move(frame));
    if (writing) return;
    writing = true;
    asio::co_spawn(stream.get_executor(), Drain(std::move(self)), asio::detached);
  }
  static asio::awaitable<void> Drain(std::shared_ptr<Session> s) {
    while (!s->out.empty()) {
      auto [ec, n] = co_await s->stream.async_write(asio::buffer(s->out.front()), kTok);
      if (ec) break;
      s->out.pop_front();
    }
    s->writing = false;
  }
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void OnFrame(State& st, const std::shared_ptr<Session>& s, std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return;
  auto& f = v.as_object();
  const auto type = f["type"].as_string();
  if (type != "send") return;  // mark_delivered and others: accepted, ignored
  std::string peer, conv;
  if (auto* to = f.if_contains("to_user_id")) {
    peer = std::string(to->as_string());
    conv = s->user_id < peer ? s->user_id + "|" + peer : peer + "|" + s->user_id;
  } else {
    conv = std::string(f["conversation_id"].as_string());
    const auto bar = conv.find('|');
    peer = conv.substr(0, bar) == s->user_id ? conv.substr(bar + 1) : conv.substr(0, bar);
  }
  const int64_t seq = ++st.seq[conv];
  const std::string id = st.NewId();
  const int64_t now = NowMs();
  s->Send(json::serialize(json::object{{"type", "ack"}, {"ref", f["ref"]}, {"message_id", id},
                                       {"conversation_id", conv}, {"seq", seq},
                                       {"created_at", now}}),
          s);
  std::shared_ptr<Session> peer_session;
  if (auto it = st.online.find(peer); it != st.online.end()) peer_session = it->second.lock();
  if (peer_session) {
    json::object m{{"message_id", id},       {"conversation_id", conv},
                   {"seq", seq},             {"sender_id", s->user_id},
                   {"sender_device_id", s->user_id}, {"created_at", now},
                   {"content_type", "text"}, {"encryption", "none"},
                   {"body", f["body"]}};
    peer_session->Send(json::serialize(json::object{{"type", "message"}, {"message", m}}),
                       peer_session);
  }
}

asio::awaitable<void> ServeWs(State& st, tcp::socket sock, http::request<http::string_body> req,
                              std::string user_id) {
  auto s = std::make_shared<Session>(std::move(sock));
  s->user_id = user_id;
  co_await s->stream.async_accept(req, asio::use_awaitable);
  s->stream.text(true);
  st.online[user_id] = s;
  s->Send(json::serialize(json::object{{"type", "ready"}, {"user_id", user_id},
                                       {"device_id", user_id}}),
          s);
  beast::flat_buffer buf;
  for (;;) {
    auto [ec, n] = co_await s->stream.async_read(buf, kTok);
    if (ec) break;
    OnFrame(st, s, std::string_view(static_cast<const char*>(buf.data().data()), buf.size()));
    buf.consume(buf.size());
  }
  st.online.erase(user_id);
}

asio::awaitable<void> ServeHttp(State& st, tcp::socket sock) {
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(sock, buf, req, kTok);
    if (ec) co_return;
    if (ws::is_upgrade(req)) {
      auto auth = std::string(req[http::field::authorization]);
      co_await ServeWs(st, std::move(sock), std::move(req), auth.substr(auth.find(' ') + 1));
      co_return;
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    boost::system::error_code jec;
    auto body = json::parse(req.body(), jec);
    if (req.target() == "/v1/signup") {
      const std::string name(body.as_object()["username"].as_string());
      const std::string id = st.NewId();
      st.user_by_name[name] = id;
      res.result(http::status::created);
      res.body() = json::serialize(json::object{{"user_id", id}, {"username", name}});
    } else if (req.target() == "/v1/login") {
      const std::string id = st.user_by_name[std::string(body.as_object()["username"].as_string())];
      res.body() = json::serialize(json::object{{"user_id", id}, {"device_id", id},
                                                {"access_token", id}, {"expires_in", 900}});
    } else if (req.target() != "/healthz") {
      res.result(http::status::not_found);
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(sock, res, kTok);
    if (wec || !req.keep_alive()) co_return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned short port = argc > 1 ? static_cast<unsigned short>(std::stoi(argv[1])) : 8099;
  asio::io_context io(1);
  State st;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(kTok);
      if (ec) continue;
      sock.set_option(tcp::no_delay(true));
      asio::co_spawn(io, ServeHttp(st, std::move(sock)), asio::detached);
    }
  }, asio::detached);
  std::cerr << "parley-bench-fake-server on 127.0.0.1:" << port << "\n";
  io.run();
}
