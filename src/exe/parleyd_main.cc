// parleyd: the composition root. Reads the config, opens the stores, wires the services to the
// router and the event bus, serves until SIGINT/SIGTERM, then drains. Nothing else lives here.
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/config.h"
#include "common/secret_file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"
#include "exe/profile.h"
#include "exe/admin_command.h"
#include "services/audit/audit_service.h"
#include "services/auth/auth_service.h"
#include "services/auth/keys_service.h"
#include "services/delivery/delivery_router.h"
#include "services/delivery/outbox_relay.h"
#include "services/chat/chat_service.h"
#include "services/gateway/gateway.h"
#include "services/groups/groups_service.h"
#include "services/media/media_processor.h"
#include "services/media/media_service.h"
#include "services/notify/notify_service.h"
#include "services/ops/ops_service.h"
#include "services/presence/presence_service.h"
#include "services/search/search_service.h"
#include "services/web/web_service.h"
#include "storage/sqlite/sqlite_store.h"
#include "transport/http_server.h"

namespace {

using namespace parley;

// Finds --config before the full parse, so the file's values become the defaults that the
// environment and the command line then override.
std::string FindConfigPath(int argc, char** argv) {
  std::string path;
  if (const char* env = std::getenv("PARLEY_CONFIG")) path = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) path = argv[i + 1];
    if (a.rfind("--config=", 0) == 0) path = a.substr(9);
  }
  return path;
}

int Fail(const std::string& what) {
  std::cerr << "parleyd: " << what << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return Fail("libsodium failed to initialise");
  Config cfg;
  std::string config_path = FindConfigPath(argc, argv);
  if (!config_path.empty()) {
    Status st = ApplyTomlFile(config_path, &cfg);
    if (!st.ok()) return Fail(st.error().message);
  }

  CLI::App app{
      "parleyd — the Parley end-to-end encrypted messaging server.\n"
      "Every option can also be set in the TOML file given with --config (same name, with\n"
      "underscores) or in the environment as PARLEY_<NAME> (e.g. PARLEY_DATA_DIR).\n"
      "Precedence: command line > environment > config file > default."};
  app.set_version_flag("--version", "parleyd 0.1.0");
  app.add_option("--config", config_path, "TOML config file")->envname("PARLEY_CONFIG");
  app.add_option("--listen", cfg.listen, "Address to serve HTTP and WebSocket on (HOST:PORT)")
      ->envname("PARLEY_LISTEN")->capture_default_str();
  app.add_option("--data-dir", cfg.data_dir, "Directory for the database and keys")
      ->envname("PARLEY_DATA_DIR")->capture_default_str();
  app.add_option("--threads", cfg.threads, "I/O threads (0 = one per core)")
      ->envname("PARLEY_THREADS")->capture_default_str();
  app.add_option("--blocking-threads", cfg.blocking_threads, "Threads for storage reads and hashing")
      ->envname("PARLEY_BLOCKING_THREADS")->capture_default_str();
  app.add_option("--log-level", cfg.log_level, "debug, info, warn or error")
      ->envname("PARLEY_LOG_LEVEL")->capture_default_str();
  app.add_option("--issuer", cfg.issuer, "The iss of access tokens")
      ->envname("PARLEY_ISSUER")->capture_default_str();
  app.add_option("--access-token-ttl", cfg.access_token_ttl_s, "Access token lifetime, seconds (max 900)")
      ->envname("PARLEY_ACCESS_TOKEN_TTL")->capture_default_str();
  app.add_option("--refresh-token-ttl", cfg.refresh_token_ttl_s, "Refresh token lifetime, seconds")
      ->envname("PARLEY_REFRESH_TOKEN_TTL")->capture_default_str();
  app.add_option("--presence-offline-after-ms", cfg.presence_offline_after_ms,
                 "A user is offline this long after their last device disconnects")
      ->envname("PARLEY_PRESENCE_OFFLINE_AFTER_MS")->capture_default_str();
  app.add_option("--ws-idle-timeout-ms", cfg.ws_idle_timeout_ms,
                 "Close a WebSocket that answers no heartbeat for this long")
      ->envname("PARLEY_WS_IDLE_TIMEOUT_MS")->capture_default_str();
  app.add_option("--ws-receipt-window-ms", cfg.ws_receipt_window_ms,
                 "Receipt frames to a connection: at most one per conversation, user and kind "
                 "in this many ms (the first at once); 0 = every receipt at once")
      ->envname("PARLEY_WS_RECEIPT_WINDOW_MS")->capture_default_str();
  app.add_option("--ws-allowed-origins", cfg.ws_allowed_origins,
                 "Browser origins (scheme://host[:port], comma-separated; * = any) allowed to open "
                 "/v1/ws besides the server's own; requests without Origin are always allowed")
      ->envname("PARLEY_WS_ALLOWED_ORIGINS")->delimiter(',');
  app.add_option("--trusted-proxies", cfg.trusted_proxies,
                 "Load balancers (IP addresses, comma-separated) whose X-Forwarded-For names the "
                 "client; others' is ignored")
      ->envname("PARLEY_TRUSTED_PROXIES")->delimiter(',');
  app.add_option("--request-timeout-ms", cfg.request_timeout_ms,
                 "A request's headers and body must arrive within this (bounds slow clients)")
      ->envname("PARLEY_REQUEST_TIMEOUT_MS")->capture_default_str();
  app.add_option("--max-request-body", cfg.max_request_body_bytes, "Largest request body, bytes")
      ->envname("PARLEY_MAX_REQUEST_BODY")->capture_default_str();
  app.add_option("--max-message-body", cfg.max_message_body_bytes, "Largest message body, bytes")
      ->envname("PARLEY_MAX_MESSAGE_BODY")->capture_default_str();
  app.add_option("--allow-plaintext", cfg.allow_plaintext,
                 "Accept messages with encryption \"none\" (true/false)")
      ->envname("PARLEY_ALLOW_PLAINTEXT")->capture_default_str();
  app.add_option("--max-group-members", cfg.max_group_members,
                 "Members per group, the owner included (2-100000)")
      ->envname("PARLEY_MAX_GROUP_MEMBERS")->capture_default_str();
  app.add_option("--upload-deadline-s", cfg.upload_deadline_s,
                 "An upload's body must arrive within this many seconds of its headers")
      ->envname("PARLEY_UPLOAD_DEADLINE_S")->capture_default_str();
  app.add_option("--max-upload-bytes", cfg.max_upload_bytes, "Largest media upload, bytes")
      ->envname("PARLEY_MAX_UPLOAD_BYTES")->capture_default_str();
  app.add_option("--media-url-ttl", cfg.media_url_ttl_s, "Signed media links expire after, seconds")
      ->envname("PARLEY_MEDIA_URL_TTL")->capture_default_str();
  app.add_option("--store", cfg.store,
                 "Where users, keys, groups, media metadata and messages live: sqlite "
                 "(DATA_DIR/parley.db), sqlite:///PATH, or postgres://USER@HOST:PORT/DB (scale-out)")
      ->envname("PARLEY_STORE")->capture_default_str();
  app.add_option("--bus", cfg.bus,
                 "Event bus: inproc, or kafka://HOST:PORT[,HOST:PORT…] (scale-out: events cross nodes)")
      ->envname("PARLEY_BUS")->capture_default_str();
  app.add_option("--cluster", cfg.cluster,
                 "Presence, user-to-node routing and rate limits: memory, or redis://HOST:PORT[/DB] "
                 "(shared by every node)")
      ->envname("PARLEY_CLUSTER")->capture_default_str();
  app.add_option("--search", cfg.search,
                 "Message search index: sqlite (DATA_DIR/search.db, per node), or "
                 "opensearch://HOST:PORT (scale-out: one index shared by every node)")
      ->envname("PARLEY_SEARCH")->capture_default_str();
  app.add_option("--ship-logs", cfg.ship_logs,
                 "Ship log lines (with the audit records) to OpenSearch, searchable by admins at "
                 "GET /v1/admin/logs: off, or opensearch://HOST:PORT (scale-out: every node's logs "
                 "in one place)")
      ->envname("PARLEY_SHIP_LOGS")->capture_default_str();
  app.add_option("--messages", cfg.messages,
                 "Where message rows live: the store (default), or with a postgres:// store "
                 "cassandra://USER:PASS@HOST:PORT/KEYSPACE[?consistency=one|quorum|local_quorum] "
                 "(scale-out; prefer PARLEY_MESSAGES or the config file for the password)")
      ->envname("PARLEY_MESSAGES");
  app.add_option("--node-id", cfg.node_id,
                 "This node's name in a cluster, unique per node (default: host name and port)")
      ->envname("PARLEY_NODE_ID");
  app.add_option("--media-dir", cfg.media_dir,
                 "Directory of media blobs (default DATA_DIR/media); the same for every node")
      ->envname("PARLEY_MEDIA_DIR");
  app.add_option("--media-store", cfg.media_store,
                 "Where media blobs live: a directory (default: --media-dir), or an S3-compatible "
                 "bucket s3://ACCESS_KEY:SECRET@HOST:PORT/BUCKET[?region=R] (scale-out; prefer "
                 "PARLEY_MEDIA_STORE or the config file, so the secret is not on the command line)")
      ->envname("PARLEY_MEDIA_STORE");
  app.add_option("--secrets-dir", cfg.secrets_dir,
                 "Directory of the token-signing and media-URL keys (default DATA_DIR); the same "
                 "for every node")
      ->envname("PARLEY_SECRETS_DIR");
  app.add_option("--sqlite-synchronous", cfg.sqlite_synchronous,
                 "full (durable on power loss) or normal (durable on process crash)")
      ->envname("PARLEY_SQLITE_SYNCHRONOUS")->capture_default_str();
  app.add_option("--rate-signup-per-min", cfg.rate_signup_per_min, "Signups per address per minute (0 = unlimited)")
      ->envname("PARLEY_RATE_SIGNUP_PER_MIN")->capture_default_str();
  app.add_option("--rate-login-per-min", cfg.rate_login_per_min,
                 "Logins per address and per username per minute (0 = unlimited; a login "
                 "naming one of the account's own devices is not counted per username)")
      ->envname("PARLEY_RATE_LOGIN_PER_MIN")->capture_default_str();
  app.add_option("--rate-send-per-min", cfg.rate_send_per_min, "Messages per user per minute (0 = unlimited)")
      ->envname("PARLEY_RATE_SEND_PER_MIN")->capture_default_str();
  app.add_option("--rate-upload-per-min", cfg.rate_upload_per_min, "Uploads per user per minute (0 = unlimited)")
      ->envname("PARLEY_RATE_UPLOAD_PER_MIN")->capture_default_str();
  app.add_option("--rate-claim-per-min", cfg.rate_claim_per_min,
                 "One-time prekeys a user may take from another user's devices per minute; past "
                 "it key bundles come without one (0 = unlimited)")
      ->envname("PARLEY_RATE_CLAIM_PER_MIN")->capture_default_str();
  app.add_option("--rate-typing-per-min", cfg.rate_typing_per_min,
                 "Typing frames a user may send into one conversation per minute, all devices "
                 "together (burst 3); the rest are dropped (0 = unlimited)")
      ->envname("PARLEY_RATE_TYPING_PER_MIN")->capture_default_str();
  app.add_option("--rate-to-device-per-min", cfg.rate_to_device_per_min,
                 "send-to-device messages (one per target device) per user per minute "
                 "(0 = unlimited)")
      ->envname("PARLEY_RATE_TO_DEVICE_PER_MIN")->capture_default_str();
  app.add_option("--rate-to-device-bytes-per-min", cfg.rate_to_device_bytes_per_min,
                 "send-to-device body bytes per user per minute (0 = unlimited)")
      ->envname("PARLEY_RATE_TO_DEVICE_BYTES_PER_MIN")->capture_default_str();
  app.add_option("--typing-max-members", cfg.typing_max_members,
                 "Typing is not relayed in conversations with more members (0 = any size)")
      ->envname("PARLEY_TYPING_MAX_MEMBERS")->capture_default_str();
  app.add_option("--max-pending-to-device", cfg.max_pending_to_device,
                 "To-device messages that may wait for one device, unacknowledged (0 = no cap)")
      ->envname("PARLEY_MAX_PENDING_TO_DEVICE")->capture_default_str();
  app.add_option("--max-pending-to-device-bytes", cfg.max_pending_to_device_bytes,
                 "Body bytes of to-device messages that may wait for one device (0 = no cap)")
      ->envname("PARLEY_MAX_PENDING_TO_DEVICE_BYTES")->capture_default_str();
  app.add_option("--media-quota-bytes", cfg.media_quota_bytes,
                 "Media bytes one user may have stored, originals (0 = unlimited)")
      ->envname("PARLEY_MEDIA_QUOTA_BYTES")->capture_default_str();
  app.add_option("--push-allow-networks", cfg.push_allow_networks,
                 "Networks (CIDR or addresses, comma-separated) push endpoints may reach besides "
                 "public addresses, e.g. an internal push gateway; loopback, private, link-local "
                 "and other non-public addresses are refused otherwise")
      ->envname("PARLEY_PUSH_ALLOW_NETWORKS")->delimiter(',');
  app.add_option("--push-max-attempts", cfg.push_max_attempts, "Tries per push notification")
      ->envname("PARLEY_PUSH_MAX_ATTEMPTS")->capture_default_str();
  app.add_option("--push-retry-base-ms", cfg.push_retry_base_ms,
                 "First push retry delay; each next one is 4x longer")
      ->envname("PARLEY_PUSH_RETRY_BASE_MS")->capture_default_str();
  app.add_option("--web-root", cfg.web_root,
                 "Directory of the web client served at / (default: web/dist of the source tree, "
                 "if built; \"off\" = none)")
      ->envname("PARLEY_WEB_ROOT");
  app.add_option("--admin", cfg.admin_usernames,
                 "Refused: use `parleyd admin grant NAME` (an existing account) or `parleyd admin "
                 "create-user`")
      ->envname("PARLEY_ADMINS")->delimiter(',');
  std::string admin_user, admin_password, admin_display;
  CLI::App* admin = app.add_subcommand("admin", "Administration against --data-dir");
  admin->require_subcommand(1);
  admin->fallthrough();  // --data-dir and friends may follow the subcommand
  CLI::App* create = admin->add_subcommand("create-user", "Create a user with the admin role");
  create->add_option("--username", admin_user, "Username")->required();
  create->add_option("--password", admin_password,
                     "Password (8-1024 bytes); read from PARLEY_ADMIN_PASSWORD if not given")
      ->envname("PARLEY_ADMIN_PASSWORD")->required();
  create->add_option("--display-name", admin_display, "Display name");
  create->fallthrough();
  CLI::App* grant = admin->add_subcommand("grant", "Give an existing user the admin role");
  grant->fallthrough();
  grant->add_option("username", admin_user, "Username")->required();
  CLI::App* rotate = admin->add_subcommand(
      "rotate-signing-key", "Replace the access-token signing key (takes effect at the next start)");
  rotate->fallthrough();
  CLI11_PARSE(app, argc, argv);

  if (Status st = Validate(cfg); !st.ok()) return Fail(st.error().message);
  LogLevel level;
  if (!ParseLogLevel(cfg.log_level, &level)) return Fail("log-level must be debug, info, warn or error");
  SetLogLevel(level);
  signal(SIGPIPE, SIG_IGN);

  std::error_code fec;
  std::filesystem::create_directories(cfg.data_dir, fec);
  if (fec) return Fail("cannot create data dir " + cfg.data_dir + ": " + fec.message());
  ::chmod(cfg.data_dir.c_str(), 0700);
  if (create->parsed()) return exe::AdminCreateUser(cfg, admin_user, admin_password, admin_display);
  if (grant->parsed()) return exe::AdminGrant(cfg, admin_user);
  if (rotate->parsed()) return exe::AdminRotateSigningKey(cfg);

  auto started = std::chrono::steady_clock::now();
  storage::sqlite::WriteFaults faults;
  if (const char* on = std::getenv("PARLEY_ENABLE_FAULT_INJECTION"); on && std::string(on) == "1") {
    // Tests only: makes commits of the main store fail as on a full disk (storage/sqlite/writer.h).
    auto num = [](const char* name, uint64_t dflt) -> uint64_t {
      const char* v = std::getenv(name);
      return v ? static_cast<uint64_t>(std::strtoull(v, nullptr, 10)) : dflt;
    };
    faults.fail_after = num("PARLEY_FAULT_FAIL_WRITE_AFTER", 0);
    faults.fail_count = num("PARLEY_FAULT_FAIL_WRITE_COUNT", 1);
    LogWarn("fault injection on", {{"fail_write_after", faults.fail_after},
                                   {"fail_write_count", faults.fail_count}});
  }
  int64_t skip_message_events = 0;
  if (const char* on = std::getenv("PARLEY_ENABLE_FAULT_INJECTION"); on && std::string(on) == "1") {
    // Tests only: the next n stored messages are not published (a crash between commit and
    // publish); the outbox relay must announce them.
    if (const char* v = std::getenv("PARLEY_FAULT_SKIP_MESSAGE_EVENTS")) {
      skip_message_events = static_cast<int64_t>(std::strtoll(v, nullptr, 10));
      LogWarn("fault injection on", {{"skip_message_events", skip_message_events}});
    }
  }
  auto opened = exe::Profile::Open(cfg, faults);
  if (!opened.ok()) return Fail(opened.error().message);
  exe::Profile& profile = **opened;
  // The keys' directory (media's: the profile's); created 0700.
  if (Status st = EnsurePrivateDir(profile.secrets_dir()); !st.ok())
    return Fail(st.error().message);
  // The search index: per node (DATA_DIR/search.db; every node indexes every message event, so a
  // search answers on any node) or OpenSearch, shared (--search).
  // Log shipping first: from here on every line of this node also goes to OpenSearch.
  auto log_shipping = exe::LogShipping::Start(cfg, profile.node_id());
  if (!log_shipping.ok()) return Fail(log_shipping.error().message);
  auto search_backend = exe::OpenSearchBackend(cfg);
  if (!search_backend.ok()) return Fail(search_backend.error().message);
  storage::SearchIndex& search_index = *search_backend->index;
  // A previous key (left by `admin rotate-signing-key`) verifies only the tokens it signed before
  // this start: they expire within the longest token lifetime.
  auto signer = auth::JwtSigner::LoadOrCreate(profile.secrets_dir() + "/jwt_ed25519.key", cfg.issuer,
                                              NowMs() / 1000 + auth::kMaxAccessTokenTtlS);
  if (!signer.ok()) return Fail(signer.error().message);

  int io_threads = cfg.threads > 0 ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::thread_pool blocking(static_cast<size_t>(cfg.blocking_threads));
  events::EventBus& bus = profile.bus();
  Metrics metrics;
  services::RateLimits limits(cfg, profile.make_limiter());
  services::DeliveryRouter deliveries(
      bus, profile.routes_deliveries() ? &profile.registry() : nullptr, metrics);
  std::unique_ptr<services::OutboxRelay> outbox_relay;
  if (storage::MessageOutbox* outbox = profile.outbox()) {
    outbox_relay =
        std::make_unique<services::OutboxRelay>(deliveries, profile.messages(), *outbox, metrics);
  }
  services::Context ctx{cfg,     profile.auth(), profile.keys(), profile.messages(),
                        bus,     blocking,       metrics,        limits,
                        deliveries, outbox_relay.get()};

  services::AuthService auth(ctx, std::move(*signer), profile.revocations());
  if (Status st = auth.Start(); !st.ok()) return Fail(st.error().message);
  services::KeysService keys(ctx);
  services::ChatService chat(ctx);
  chat.SkipPublishesForTest(skip_message_events);
  chat.SetMediaAccess([&profile](const std::string& user, const std::string& media) -> Result<bool> {
    auto m = profile.media().GetMedia(media);
    if (!m.ok()) {
      if (m.error().code == ErrorCode::kNotFound) return false;
      return m.error();
    }
    if (m->uploader_id == user) return true;
    return profile.messages().CanSeeMedia(user, media);
  });
  services::PresenceService presence(ctx, profile.registry(), profile.scale_out());
  profile.OnUsersPurged([&presence](const std::vector<std::string>& users) { presence.Recheck(users); });
  services::GroupsService groups(ctx, profile.groups());
  services::OpsService ops(ctx);
  storage::BlobStore& blobs = profile.blobs();
  ops.AddCheck("media store", [&blobs] { return blobs.Ping(); });
  ops.AddCheck("search index", [&search_index] { return search_index.Ping(); });
  auto url_signer = services::UrlSigner::LoadOrCreate(profile.secrets_dir() + "/media_url.key");
  if (!url_signer.ok()) return Fail(url_signer.error().message);
  services::MediaService media(ctx, profile.media(), blobs, std::move(*url_signer));
  media.Start();
  services::MediaProcessor media_worker(ctx, profile.media(), blobs);
  if (Status st = media_worker.Start(); !st.ok()) return Fail(st.error().message);
  services::AuditService audit(ctx, profile.audit());
  audit.SetLogSearch((*log_shipping)->search());
  audit.Start();
  services::Gateway gateway(ctx, auth, chat, presence);
  gateway.Start();
  deliveries.Start();  // the bridge for older nodes' events, when routed
  services::SearchService search(ctx, search_index);
  search.Start();
  services::NotifyService notify(
      ctx, profile.notify(), services::PushOptions::From(cfg),
      [&gateway, &profile](const std::string& u, const std::string& d) {
        // Online on any node (the registry), or at least here if the registry cannot say.
        auto online = profile.registry().DeviceOnline(u, d);
        return online.ok() ? *online : gateway.DeviceOnline(u, d);
      });
  if (Status st = notify.Start(); !st.ok()) return Fail(st.error().message);
  using Revoked = services::AuthService::Revoked;
  auth.OnDeviceRevoked([&notify](const std::string& device_id, Revoked what) {
    if (what == Revoked::kDevice) notify.ForgetDevice(device_id);  // on every node
  });
  // Every service has subscribed: start consuming (Kafka joins its consumer groups here).
  if (Status st = profile.StartBus(); !st.ok()) return Fail(st.error().message);
  if (outbox_relay) outbox_relay->Start();

  transport::Router router;
  router.SetAuthenticator([&auth](std::string_view t) { return auth.Authenticate(t); });
  auth.Register(router);
  keys.Register(router);
  chat.Register(router);
  presence.Register(router);
  groups.Register(router);
  media.Register(router);
  ops.Register(router);
  search.Register(router);
  audit.Register(router);
  notify.Register(router);
  services::WebService web(cfg.web_root == "off" ? std::string()
                           : cfg.web_root.empty() ? services::WebService::DefaultRoot()
                                                  : cfg.web_root);
  web.Register(router);  // the fallback for paths no API route matches
  router.SetObserver([&audit](const transport::HttpRequest& req, int status) {
    audit.ObserveResponse(req, status);
  });

  profile.RegisterMetrics(metrics);

  transport::HttpServer server(
      {cfg.host(), cfg.port(), io_threads, cfg.max_request_body_bytes, cfg.request_timeout_ms,
       int64_t{cfg.upload_deadline_s} * 1000, cfg.trusted_proxies},
      router);
  metrics.CounterFn("parley_http_requests_total", "HTTP requests read",
                [&server] { return static_cast<double>(server.stats().requests.load()); });
  metrics.CounterFn("parley_http_responses_4xx_total", "HTTP 4xx responses",
                [&server] { return static_cast<double>(server.stats().responses_4xx.load()); });
  metrics.CounterFn("parley_http_responses_5xx_total", "HTTP 5xx responses",
                [&server] { return static_cast<double>(server.stats().responses_5xx.load()); });
  server.SetUpgradeHandler("/v1/ws", [&gateway](auto stream, auto req, std::string remote) {
    gateway.Upgrade(std::move(stream), std::move(req), std::move(remote));
  });

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // threads started from here on inherit the mask

  auto port = server.Start();
  if (!port.ok()) return Fail(port.error().message);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  LogInfo("listening", {{"address", cfg.host()}, {"port", *port}, {"io_threads", io_threads},
                        {"data_dir", cfg.data_dir}, {"profile", profile.Describe() + " search=" + search_backend->kind},
                        {"node_id", profile.node_id()}, {"startup_ms", ms}});

  int sig = 0;
  sigwait(&sigs, &sig);
  LogInfo("draining", {{"signal", sig}});
  ops.SetDraining();
  server.StopAccepting();
  gateway.CloseAll();
  // Requests already read finish and are answered (an acknowledged send is durable); WebSockets
  // close (1012) once theirs are. Bounded, so that SIGTERM always ends the process promptly.
  auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((server.stats().in_flight.load() > 0 || gateway.Draining() > 0) &&
         std::chrono::steady_clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Close frames are out; give the clients' close replies a moment (not the TCP teardown).
  auto close_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (gateway.hub().size() > 0 && std::chrono::steady_clock::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  LogInfo("drained", {{"http_in_flight", server.stats().in_flight.load()},
                      {"websockets_draining", gateway.Draining()}});
  server.Stop();
  profile.OnUsersPurged(nullptr);
  presence.Stop();
  notify.Stop();
  media_worker.Stop();
  media.Stop();
  search.Stop();
  profile.StopBus();
  // After the bus flushed its producer: what it acknowledged meanwhile leaves the outbox now.
  if (outbox_relay) outbox_relay->Stop();
  blocking.join();
  search_backend->close();
  profile.Close();
  LogInfo("stopped");
  return 0;
}
