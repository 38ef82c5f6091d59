// Config: every setting of parleyd, with its default. Precedence, lowest first: defaults, the TOML
// file (--config), environment variables (PARLEY_<NAME>), command-line options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./parley-data";
  int threads = 0;           // I/O threads; 0 = one per core
  int blocking_threads = 4;  // storage reads and password hashing
  std::string log_level = "info";

  std::string issuer = "parley";
  int access_token_ttl_s = 900;              // at most 900 (15 min)
  int64_t refresh_token_ttl_s = 30 * 86400;  // 30 days
  int64_t argon2_memlimit_kib = 19456;       // OWASP minimum for argon2id: 19 MiB, t=2, p=1
  int argon2_opslimit = 2;

  int presence_offline_after_ms = 60000;  // last device gone → offline after this
  int ws_idle_timeout_ms = 30000;         // no answer to heartbeats for this long → closed
  // Receipt frames to one connection: the first of a quiet spell at once, then at most one per
  // (conversation, user, kind) per this many ms (0 = every receipt at once).
  int ws_receipt_window_ms = 50;
  // Browser Origins allowed on /v1/ws besides the server's own; "*" = any. No Origin (native
  // clients) is always allowed.
  std::vector<std::string> ws_allowed_origins;
  int request_timeout_ms = 30000;  // a request's headers and body must arrive within this
  // Load balancers (exact IPs) whose X-Forwarded-For names the client (per-address rate limits,
  // audit addresses). Empty: the header is ignored.
  std::vector<std::string> trusted_proxies;
  size_t max_request_body_bytes = 1 << 20;
  size_t max_message_body_bytes = 64 * 1024;
  uint64_t max_upload_bytes = 100ull << 20;  // media uploads (streamed, so not max_request_body)
  int upload_deadline_s = 3600;  // a streamed body (upload) must arrive within this of its headers
  int media_url_ttl_s = 3600;                 // signed media download links expire after this
  size_t max_one_time_prekeys = 1000;  // stored per device
  bool allow_plaintext = true;         // accept encryption "none"
  std::string sqlite_synchronous = "full";

  // Adapters (DESIGN.md "Deployment profiles"), chosen by URI. The defaults are the embedded
  // profile: SQLite under data_dir, the in-process bus, in-memory presence and rate limits.
  std::string store = "sqlite";  // "sqlite" (DATA_DIR/parley.db), sqlite:///path or postgres://…
  std::string bus = "inproc";    // "inproc" or kafka://host:port[,host:port…]
  std::string cluster = "memory";  // "memory" or redis://host:port[/db]
  std::string search = "sqlite";   // "sqlite" (DATA_DIR/search.db) or opensearch://host:port
  // Where message rows live: "" (the store) or, with a postgres:// store,
  // cassandra://USER:PASS@HOST:PORT/KEYSPACE[?consistency=one|quorum|local_quorum]
  // (storage/cassandra/README.md).
  std::string messages;
  std::string node_id;           // this node's name in a cluster ("" = host name and port)
  // Ship this node's log lines (and so its audit records) to OpenSearch, searchable by an admin
  // at GET /v1/admin/logs: "off" or opensearch://host:port.
  std::string ship_logs = "off";
  std::string media_dir;         // media blobs ("" = DATA_DIR/media); shared by every node
  // Where media blobs live: "" (media_dir), a directory, or
  // s3://ACCESS_KEY:SECRET@HOST[:PORT]/BUCKET[?region=R] (storage/s3/README.md).
  std::string media_store;
  std::string secrets_dir;       // signing keys ("" = DATA_DIR); the same on every node
  size_t ws_max_outbox_bytes = 8 << 20;  // a slower client is disconnected; its messages stay pending
  size_t max_group_members = 1024;       // members per group, the owner included

  int push_max_attempts = 4;     // per push, the first try included
  int push_retry_base_ms = 1000;  // back-off: base, 4×base, 16×base
  // Networks (CIDR or single addresses) push endpoints may reach besides public addresses
  // (common/net_filter.h): e.g. an internal push gateway. Empty: public addresses only.
  std::vector<std::string> push_allow_networks;
  // Refused by Validate (it granted the admin role to whoever signed a listed name up first):
  // kept so that an old --admin or admin_usernames fails with a message saying what to do.
  std::vector<std::string> admin_usernames;
  // The browser client's files (web/dist) served at `/`: "" = web/dist of the source tree the
  // binary was built in, if present; "off" = none.
  std::string web_root;

  // Rate limits; 0 = unlimited. Per minute, with a burst of the same size (send: burst 200).
  int64_t rate_signup_per_min = 10;          // per address
  int64_t rate_login_per_min = 30;           // per address, and per username
  int64_t rate_send_per_min = 6000;          // per user (100/s)
  int64_t rate_upload_per_min = 60;          // per user
  // One-time prekeys one user may take from another user's devices per minute; past it the
  // bundles come without one (X3DH without it), so a stranger cannot drain them.
  int64_t rate_claim_per_min = 10;
  // Typing frames one user may send into one conversation per minute, all devices together
  // (burst 3); past it they are dropped.
  int64_t rate_typing_per_min = 60;
  // send-to-device per sending user: messages (one per target device, burst 1000) and body bytes
  // per minute (burst the same).
  int64_t rate_to_device_per_min = 6000;
  int64_t rate_to_device_bytes_per_min = 16 << 20;

  // Quotas; 0 = none.
  int64_t typing_max_members = 100;  // typing is not relayed in larger conversations
  // What may wait for one device, not yet acknowledged: to-device messages and their bytes.
  int64_t max_pending_to_device = 1000;
  int64_t max_pending_to_device_bytes = 8 << 20;
  uint64_t media_quota_bytes = 5ull << 30;  // media one user may have stored (originals)

  // Derived from `listen`.
  std::string host() const;
  uint16_t port() const;
};

// Checks ranges and formats. kInvalidArgument names the bad setting.
Status Validate(const Config& c);
// Applies the TOML file's keys (the same names as the options, with underscores).
Status ApplyTomlFile(const std::string& path, Config* c);

}  // namespace parley
