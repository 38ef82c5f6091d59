// Client: the high-level SDK the apps use (the `parley` CLI, tests, other front ends). One Client
// is one profile: a directory holding one account's LocalStore (database, tokens, E2EE state).
// Every conversation message it sends is end-to-end encrypted ("e2ee-v1") with the E2EE Engine;
// the server only ever sees ciphertext, encrypted media blobs and key material.
//
// Contract for every method:
// - Failures are Result errors (ErrorCode), never exceptions: kUnauthenticated when no account is
//   logged in (or the server refused the session), kNotFound for an unknown user, group, message
//   or file, kInvalidArgument for bad input, kUnavailable for network trouble, and the server's
//   errors as ApiClient maps them.
// - Thread safety: every public method may be called from any thread. Engine work (encrypt,
//   decrypt, to-device processing) is serialized by one mutex. Events are dispatched with no
//   lock held, on the thread that produced them (the caller's, or the live connection's); an
//   event handler may call any method of the Client except Stop/StopLive and the destructor.
// - Durability: a message is written to the outbox (with its ciphertext and client_msg_id)
//   before it is sent and removed after the server acknowledged it, so FlushOutbox() after a
//   crash resends the same ciphertext under the same client_msg_id and the server de-duplicates.
//
// Message payload (the E2EE plaintext): a JSON object {"v":1,"text":"…"} for text, with
// "media":{media_id, key (base64), sha256 (hex, of the encrypted blob), size, media_type,
// file_name} for a file (src/sdk/client/README.md). A plaintext that is not such an object is
// taken as plain text.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/api/api_client.h"
#include "sdk/api/http_key_directory.h"
#include "sdk/api/live_connection.h"
#include "sdk/client/client_members.h"
#include "sdk/e2ee/engine.h"
#include "sdk/store/local_store.h"

namespace parley::sdk {

struct ClientOptions {
  std::string profile_dir;  // created 0700 if missing (see client_profile.h for the default)
  std::string server_url;   // "" = the one remembered in the profile, else kDefaultServerUrl
  std::string device_name = "parley-cli";
  LiveOptions live;
  e2ee::EngineOptions engine;
};

inline constexpr char kDefaultServerUrl[] = "http://127.0.0.1:8080";

// Something the UI may want to show. Only the fields of its kind are set.
struct ClientEvent {
  enum class Kind {
    kMessage,     // a new message stored (or a pending one decrypted): `message`
    kReceipt,     // conversation_id, user_id, receipt_kind ("delivered"|"read"), up_to_seq, at
    kPresence,    // presence
    kTyping,      // conversation_id, user_id
    kGroup,       // group_event ("created"|"updated"), group
    kKeyChange,   // key_change: a contact device's key changed; compare safety numbers
    kConnection,  // connected, reason
  };
  Kind kind = Kind::kMessage;
  LocalMessage message;
  std::string conversation_id, user_id, receipt_kind, group_event, reason;
  int64_t up_to_seq = 0, at = 0;
  bool connected = false;
  PresenceStatus presence;
  Group group;
  e2ee::KeyChange key_change;
};
using EventHandler = std::function<void(const ClientEvent&)>;

// Where messages go: a direct conversation with a user, or a group's conversation.
struct Target {
  std::string conversation_id;
  bool is_group = false;
  std::string peer_user_id;  // direct
  std::string group_id;      // group
  std::string title;         // peer username or group name
};

struct SyncReport {
  std::vector<LocalMessage> messages;  // newly stored or newly decrypted, in arrival order
  int to_device = 0;                   // to-device messages processed
  int pending = 0;                     // messages still waiting for a sender key
  int sent_from_outbox = 0;
};

struct SafetyNumberInfo {
  std::string number;        // 60 digits, the same on both sides
  bool key_changed = false;  // a device key of this contact changed since last marked verified
};

class Client {
 public:
  // Opens (creating) the profile and its LocalStore; resumes the stored session if there is one.
  // kUnavailable if the directory or database cannot be opened.
  static Result<std::unique_ptr<Client>> Open(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void SetEventHandler(EventHandler handler);  // set before StartLive

  // --- account ---
  // Creates the user, logs in a new device and bootstraps its keys. kConflict if the profile
  // already holds another account (log out and use another profile) or the name is taken.
  Result<User> Signup(const std::string& username, const std::string& password,
                      const std::string& display_name = "");
  // Logs in: resumes the device stored in the profile for this user, else registers a new one;
  // then bootstraps E2EE keys. kConflict if the profile holds another user's device.
  Result<Account> Login(const std::string& username, const std::string& password);
  // Revokes this device's tokens on the server (best effort) and forgets them locally; the
  // device and its keys stay in the profile so the next Login resumes it.
  Result<Unit> Logout();
  // The stored account (kUnauthenticated if none is logged in).
  Result<Account> WhoAmI();
  const std::string& server_url() const { return server_url_; }
  const std::string& profile_dir() const { return profile_dir_; }

  // --- targets, users ---
  // "username", a user id, a group id or a conversation id → where to send. kNotFound if none.
  Result<Target> Resolve(const std::string& who);
  // Username of a user id (cached in the store's contacts); the id itself if unknown.
  std::string UserName(const std::string& user_id);

  // --- sending ---
  Result<LocalMessage> SendText(const std::string& to, const std::string& text);
  // Encrypts the file (streamed) with a fresh key, uploads the blob, sends the descriptor.
  Result<LocalMessage> SendFile(const std::string& to, const std::string& path);
  // Encrypts and queues in the outbox without sending (FlushOutbox sends it).
  Result<OutboxEntry> QueueText(const std::string& to, const std::string& text);
  // Sends everything in the outbox, oldest first; returns how many the server acknowledged.
  // Stops at the first failure (it stays queued) and returns its error.
  Result<int> FlushOutbox();

  // --- receiving ---
  // Downloads a file message's blob, verifies its hash, decrypts it to `out_path` (or to its
  // file name in the current directory when empty). Returns the path written.
  Result<std::string> GetFile(const std::string& message_id, const std::string& out_path = "");
  // Fetches everything pending (to-device first, then messages), decrypts and stores it.
  Result<SyncReport> Sync();
  // Opens the WebSocket on a background thread; incoming messages are processed like Sync's
  // and reported as events, then marked delivered; to-device messages are acknowledged
  // (`ack_to_device`) only after the engine committed what they carried, so a crash before
  // that gets them again on the next connection.
  Result<Unit> StartLive();
  void StopLive();
  bool live_connected() const;
  Result<Unit> MarkRead(const std::string& conversation_id, int64_t up_to_seq);
  Result<Unit> SendTyping(const std::string& conversation_id);

  // --- reading ---
  // Newest `limit` messages, oldest first; fetches older pages from the server (decrypting
  // what it can) when the store has fewer.
  Result<std::vector<LocalMessage>> History(const std::string& who, int limit = 50);
  // Local full-text search over decrypted text, newest first.
  Result<std::vector<LocalMessage>> Search(const std::string& text, const std::string& in = "",
                                           int limit = 50);
  // Conversations (refreshed from the server when reachable), newest activity first.
  Result<std::vector<LocalConversation>> Conversations();

  // --- server-assisted search (opt-in per conversation, off by default; docs/protocol.md §9) ---
  // Turns sending search tokens on or off for the conversation of `who` on this device (kept in
  // the E2EE state, so it survives restarts). On: every text message this device sends there
  // carries `search_tokens` (Engine::SearchTokens of its text, at most 256), and SearchServer
  // works there. Turning it on creates the conversation's search key if this device holds none
  // (the next send distributes it with the sender key); a device that already received the key
  // keeps it, so its tokens match the other members' (Sync() first, so a key in flight is
  // adopted rather than a competing one created). Off: no tokens are sent (tokens already
  // sent stay on the server). What the server learns: docs/api.md "Server-assisted search".
  Result<Target> SetServerSearch(const std::string& who, bool enabled);
  // Server-assisted search in the conversation of `in` (required): the engine's tokens for the
  // words of `text` (same normalization as sending), space-separated as `q` of
  // GET /v1/search-messages. Every word must match exactly (no prefix). Hits are taken from the
  // local store by message_id, else decrypted (and stored); hits not decryptable yet, or whose
  // decrypted text lacks a query word, are left out (Sync() first to receive sender keys).
  // Newest first, like Search.
  // kInvalidArgument: `in` empty, no word in `text`, more words than fit a query (7), or server
  // search off for that conversation on this device (tokens need it on).
  Result<std::vector<LocalMessage>> SearchServer(const std::string& text, const std::string& in,
                                                 int limit = 50);

  // --- groups (members by username or id) ---
  Result<Group> CreateGroup(const std::string& name, const std::vector<std::string>& members);
  Result<Group> AddMember(const std::string& group, const std::string& user,
                          const std::string& role = "");
  Result<Group> RemoveMember(const std::string& group, const std::string& user);
  Result<Group> SetRole(const std::string& group, const std::string& user,
                        const std::string& role);
  Result<Group> Rename(const std::string& group, const std::string& name);
  Result<Group> Leave(const std::string& group);
  Result<Group> ShowGroup(const std::string& group);
  Result<std::vector<LocalConversation>> ListGroups();

  // --- devices, keys, presence ---
  Result<std::vector<Device>> ListDevices();
  Result<Unit> RevokeDevice(const std::string& device_id);
  Result<SafetyNumberInfo> SafetyNumber(const std::string& user);
  Result<Unit> MarkVerified(const std::string& user);  // clears the key-change marker
  Result<Unit> SetStatus(const std::string& status, const std::string& text = "");
  Result<std::vector<PresenceStatus>> GetStatus(const std::vector<std::string>& users);

  // For tests and tools.
  LocalStore& store() { return *store_; }
  ApiClient& api() { return *api_; }

 private:
  using Events = std::vector<ClientEvent>;
  Client() = default;

  Result<Unit> RequireSession();
  Result<e2ee::Engine*> EngineLocked();  // engine_mu_ held; creates + bootstraps once
  Result<Unit> AdoptLogin(const LoginResult& login, const std::string& username);
  Result<std::string> UserIdOf(const std::string& user);  // username or id → id
  Result<Group> GroupOf(const std::string& group);
  void RememberGroup(const Group& g);

  Result<OutboxEntry> Prepare(const Target& t, const std::string& payload,
                              const std::string& content_type,
                              const std::vector<std::string>& media_ids,
                              const std::string& local_text, const std::string& media_json);
  Result<LocalMessage> SendEntry(const OutboxEntry& e);

  // engine_mu_ held for these three.
  Result<Unit> ProcessMessage(const Message& m, Events& ev, bool* pending);
  Result<Unit> ProcessToDevice(const ToDeviceMessage& t);
  void RetryPending(Events& ev);
  void CollectKeyChanges(Events& ev);

  void OnFrame(const boost::json::object& frame);
  void Dispatch(const Events& ev);
  Result<Unit> RefreshConversations();

  ClientOptions opts_;
  std::string profile_dir_, server_url_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<ApiClient> api_;
  std::unique_ptr<HttpKeyDirectory> directory_;
  std::unique_ptr<ApiConversationMembers> members_;

  std::mutex engine_mu_;
  std::unique_ptr<e2ee::Engine> engine_;  // guarded by engine_mu_
  int to_device_since_bootstrap_ = 0;      // guarded by engine_mu_
  // A to-device frame failed transiently on this live connection: send no more ack_to_device
  // until the next one. Guarded by engine_mu_.
  bool live_to_device_held_ = false;

  std::mutex handler_mu_;
  EventHandler handler_;  // guarded by handler_mu_

  mutable std::mutex live_mu_;
  std::unique_ptr<LiveConnection> live_;  // guarded by live_mu_ (start/stop)
};

}  // namespace parley::sdk
