// LiveConnection: the device's WebSocket (GET /v1/ws) kept open on a background thread.
//
// - Every server frame, parsed, goes to the frame callback (acks, errors and pongs too).
// - Send() sends a client frame (send, mark_delivered, mark_read, ack_to_device, typing, ping)
//   and returns a future of its answer: the `ack` (or `pong`) frame, or the Error of the
//   server's `error` frame. The connection sets each frame's "ref" itself (any given ref is
//   replaced).
// - `send` frames stay pending until answered. They are written at once when connected, else on
//   the next connection; after any reconnect every unanswered `send` is written again, in the
//   order Send() was called (safe: the server de-duplicates by client_msg_id and answers a
//   repeat with the first ack, `duplicate: true`). An `error` answer ends the pending send (the
//   caller decides whether to retry, e.g. after kRateLimited).
// - Other frames need a connection: without one they fail at once with kUnavailable, and those
//   awaiting an answer fail with kUnavailable if the connection drops first. `typing` has no
//   answer: its future is ready with an empty object once it is queued.
// - Reconnects after any disconnect with exponential back-off (initial_backoff doubling to
//   max_backoff, "equal jitter": half fixed, half random), back to the initial delay after a
//   connection that reached `ready`. The access token is refreshed before connecting when near
//   expiry, and after the server refuses the upgrade with 401.
// - Heartbeats: the WebSocket layer answers the server's pings and pings a quiet server
//   (ws.idle_timeout); when nothing was sent for ping_interval a `ping` frame goes out too.
// - The state callback reports connected (on `ready`) and disconnected (with the reason), and
//   kUnauthenticated when the session has ended (refresh refused): log in again. It keeps
//   retrying meanwhile, so a new session given to the ApiClient is picked up.
//
// Threading: callbacks run on the connection's thread, one at a time; they must not block on
// the connection (no SendAndWait, no Stop) but may call Send. Every public method is
// thread-safe. Stop() (also run by the destructor) closes cleanly and joins the thread; the
// ApiClient must outlive this object.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "sdk/api/api_client.h"
#include "sdk/net/ws_client.h"

namespace boost::asio {
class io_context;
}

namespace parley::sdk {

struct LiveOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds ping_interval{20'000};
  net::WsOptions ws;
};

class LiveConnection {
 public:
  using Answer = Result<boost::json::object>;
  using FrameCallback = std::function<void(const boost::json::object& frame)>;
  // connected: true on `ready`; false after a disconnect, with `why`.
  using StateCallback = std::function<void(bool connected, const Error& why)>;

  LiveConnection(ApiClient& api, LiveOptions options = {});
  ~LiveConnection();
  LiveConnection(const LiveConnection&) = delete;
  LiveConnection& operator=(const LiveConnection&) = delete;

  // Set before Start.
  void SetFrameCallback(FrameCallback cb);
  void SetStateCallback(StateCallback cb);

  // Starts the background thread (it connects at once). kInvalidArgument if already started.
  Result<Unit> Start();
  // Closes the connection cleanly and joins the thread. Pending sends stay unanswered (their
  // futures fail with kUnavailable); persist them (LocalStore's outbox) to replay later.
  void Stop();

  std::shared_future<Answer> Send(boost::json::object frame);
  // Send, then wait up to `timeout` for the answer (kUnavailable on timeout; a `send` stays
  // pending and may still be answered later).
  Answer SendAndWait(boost::json::object frame, std::chrono::milliseconds timeout);

  bool connected() const;
  size_t pending_sends() const;
  // Completed connections (ready received) since Start, for tests and diagnostics.
  int connections() const;

 private:
  struct Request {
    std::string type;
    std::string text;  // the serialized frame
    std::promise<Answer> promise;
  };
  struct Session;

  void Loop();
  Error RunSession(const std::string& token, int* http_status, bool* reached_ready);
  void OnText(Session& s, std::string text);
  void OnReady(Session& s);
  void WriteNow(Session& s, const std::string& text);
  void FailInFlight(const Error& e, bool include_sends);
  void WaitBackoff(std::chrono::milliseconds delay);

  ApiClient& api_;
  const LiveOptions opts_;
  FrameCallback frame_cb_;  // constant after Start
  StateCallback state_cb_;  // constant after Start
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes the back-off wait on Stop
  // guarded by mu_:
  bool started_ = false;
  bool stopping_ = false;
  bool connected_ = false;
  int connections_ = 0;
  uint64_t next_ref_ = 0;
  std::map<std::string, std::shared_ptr<Request>> requests_;  // by ref, awaiting an answer
  std::deque<std::string> pending_sends_;                     // refs of `send`s, in order
  Session* session_ = nullptr;                                // the live session, if any
};

}  // namespace parley::sdk
