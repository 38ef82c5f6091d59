// ApiClient: typed, synchronous calls for the whole Parley HTTP API (docs/api.md,
// docs/openapi.yaml), with the session's tokens and their automatic refresh.
//
// Tokens: every authenticated call uses the current access token, refreshing it first when it
// expires within the refresh margin (min(refresh_margin, a fifth of its lifetime)), and, when the
// server still answers 401, refreshing once and retrying the call once. Refresh tokens are
// single-use, so refreshes are serialized (refresh_mu_): a caller that finds the token already
// replaced while it waited uses the new one instead of refreshing again. New tokens go to the
// token callback (persist them: the old refresh token is now spent). If the refresh itself is
// refused, calls fail with kUnauthenticated and the user must log in again.
//
// Errors: the server's error body → the matching ErrorCode with its message (api_errors.h);
// 429 → kRateLimited with retry_after_s; network failures and timeouts → kUnavailable;
// kUnauthenticated without a session. Nothing here throws.
//
// Thread safety: every method may be called from any thread concurrently. The token callback is
// called on the thread that refreshed, with no lock of the client held but the refresh lock (do
// not call back into ApiClient's refresh from it).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/api/api_types.h"
#include "sdk/e2ee/ports.h"
#include "sdk/net/http_client.h"

namespace parley::sdk {

struct ApiOptions {
  std::string base_url;  // "http://host:port"
  net::HttpOptions http;
  std::chrono::milliseconds refresh_margin{60'000};
};

class ApiClient {
 public:
  using TokenCallback = std::function<void(const Tokens&)>;

  // kInvalidArgument for a malformed base_url.
  static Result<std::unique_ptr<ApiClient>> Create(ApiOptions options);

  // --- session ---
  // Resumes a stored session (e.g. from LocalStore's Account).
  void SetSession(const std::string& user_id, const std::string& device_id, const Tokens& tokens);
  void ClearSession();
  void SetTokenCallback(TokenCallback cb);
  Tokens tokens() const;
  std::string user_id() const;
  std::string device_id() const;
  const net::BaseUrl& base_url() const { return http_.base(); }
  const ApiOptions& options() const { return opts_; }

  // An access token valid for at least the margin, refreshing if needed (for the WebSocket).
  Result<std::string> FreshAccessToken();
  // Refreshes unless the access token is no longer `stale_access_token` (someone else already
  // refreshed); returns the current access token.
  Result<std::string> RefreshAfterReject(const std::string& stale_access_token);

  // --- auth ---
  Result<User> Signup(const std::string& username, const std::string& password,
                      const std::string& display_name = "");
  // Logs in and makes the result this client's session (and calls the token callback). With
  // `device_id`, resumes that device; without, registers a new one named `device_name`.
  Result<LoginResult> Login(const std::string& username, const std::string& password,
                            const std::string& device_name = "", const std::string& device_id = "");
  // Spends the refresh token for new tokens now (normally automatic).
  Result<Tokens> RefreshTokens();
  // Revokes this device's tokens on the server and clears the session.
  Result<Unit> Logout();

  // --- users, devices, keys ---
  Result<User> GetUser(const std::string& user_id);
  Result<User> FindUser(const std::string& username);  // kNotFound if none
  Result<std::vector<Device>> ListDevices();
  Result<Unit> RevokeDevice(const std::string& device_id);
  Result<Unit> PutKeys(const PublishedKeys& keys);
  Result<int64_t> CountOneTimePrekeys();
  // GET /v1/keys/{user_id}: every device's bundle, claiming one one-time prekey per device.
  Result<std::vector<PrekeyBundle>> ClaimAllBundles(const std::string& user_id);
  // GET /v1/keys/{user_id}?claim=false: every device's keys, claiming nothing.
  Result<std::vector<PrekeyBundle>> ListKeyDevices(const std::string& user_id);
  // GET /v1/keys/{user_id}?device_id=D: that device only, claiming one of its one-time prekeys.
  // kNotFound if it published no keys.
  Result<PrekeyBundle> ClaimBundle(const std::string& user_id, const std::string& device_id);

  // --- chat ---
  Result<SendResult> SendMessage(const OutgoingMessage& m);
  // Pending messages and to-device messages. Passing the previous cursor as `after` marks what
  // it covered as delivered. limit 0 = server default.
  Result<PendingPage> GetMessages(const std::string& after, int limit = 0);
  // Newest first with before_seq (or neither); oldest first with after_seq. 0 = not given.
  Result<HistoryPage> GetChatHistory(const std::string& conversation_id, int64_t before_seq = 0,
                                     int64_t after_seq = 0, int limit = 0);
  Result<std::vector<Conversation>> ListConversations();
  Result<Unit> MarkDelivered(const std::string& conversation_id, int64_t up_to_seq);
  Result<Unit> MarkRead(const std::string& conversation_id, int64_t up_to_seq);
  Result<MessageStatus> GetMessageStatus(const std::string& message_id);
  // user_id → device_id → body. Returns how many were queued.
  Result<int64_t> SendToDevice(
      const std::map<std::string, std::map<std::string, std::string>>& messages);

  // --- presence ---
  Result<Unit> UpdateStatus(const std::string& status, const std::string& text = "");
  Result<std::vector<PresenceStatus>> GetStatus(const std::vector<std::string>& user_ids);

  // --- groups ---
  Result<Group> CreateGroup(const std::string& name, const std::vector<std::string>& member_ids);
  Result<Group> AddMember(const std::string& group_id, const std::string& user_id,
                          const std::string& role = "");
  Result<Group> RemoveMember(const std::string& group_id, const std::string& user_id);
  Result<Group> UpdateGroup(const std::string& group_id, const std::optional<std::string>& name,
                            const std::map<std::string, std::string>& roles = {});
  Result<Group> GetGroup(const std::string& group_id);

  // --- media ---
  // Streams the file at `path` (never held in memory). content_type "" = application/octet-stream;
  // filename "" = no X-Filename (it is percent-encoded on the wire).
  Result<Media> Upload(const std::string& path, const std::string& content_type,
                       const std::string& filename = "");
  Result<Media> GetMedia(const std::string& media_id);
  // Streams the media to `out_path` (written whole or not at all); returns its size.
  // variant "" = original, or "thumbnail".
  Result<uint64_t> Download(const std::string& media_id, const std::string& out_path,
                            const std::string& variant = "");
  // Downloads by a signed URL as the server gave it (relative "/v1/download/…?expires&sig", or
  // absolute on this server); no token is sent.
  Result<uint64_t> DownloadSigned(const std::string& url, const std::string& out_path);

  // --- notifications, search ---
  Result<Unit> RegisterPush(const std::string& endpoint);  // "" removes it
  Result<std::vector<boost::json::object>> Notifications(int limit = 0, int64_t before = 0);
  Result<std::vector<Message>> SearchMessages(const std::string& q,
                                              const std::string& conversation_id = "",
                                              int limit = 0);

  // --- low level ---
  // One call: the parsed JSON body of a 2xx answer (null for an empty body) or the mapped error.
  Result<boost::json::value> Call(const std::string& method, const std::string& target,
                                  const std::optional<boost::json::object>& body,
                                  bool authenticated = true);

 private:
  ApiClient(ApiOptions options, net::BaseUrl base);
  // Sends with the session's token (refreshing as described above) when `authenticated`.
  Result<net::HttpResponse> Send(net::HttpRequestSpec spec, bool authenticated);
  Result<boost::json::object> CallObject(const std::string& method, const std::string& target,
                                         const std::optional<boost::json::object>& body,
                                         bool authenticated = true);
  Result<Tokens> DoRefresh(const std::string& refresh_token);
  void AdoptTokens(const Tokens& t);
  Result<std::vector<PrekeyBundle>> GetBundles(const std::string& user_id,
                                               const std::string& query);

  const ApiOptions opts_;
  const net::HttpClient http_;

  std::mutex refresh_mu_;  // held for a whole refresh: one at a time
  mutable std::mutex mu_;
  // guarded by mu_:
  std::string user_id_, device_id_;
  Tokens tokens_;
  int64_t lifetime_ms_ = 0;  // of the current access token, 0 = unknown
  TokenCallback token_cb_;
};

}  // namespace parley::sdk
