#include "common/config.h"

#include "common/net_filter.h"

#include <toml++/toml.h>

#include <charconv>

namespace parley {

std::string Config::host() const { return listen.substr(0, listen.rfind(':')); }

uint16_t Config::port() const {
  size_t c = listen.rfind(':');
  unsigned p = 0;
  std::from_chars(listen.data() + c + 1, listen.data() + listen.size(), p);
  return static_cast<uint16_t>(p);
}

Status Validate(const Config& c) {
  auto bad = [](std::string m) { return MakeError(ErrorCode::kInvalidArgument, std::move(m)); };
  size_t colon = c.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("listen must be HOST:PORT");
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(c.listen.data() + colon + 1, c.listen.data() + c.listen.size(), p);
  if (ec != std::errc() || ptr != c.listen.data() + c.listen.size() || p > 65535)
    return bad("listen port must be 0-65535");
  if (c.data_dir.empty()) return bad("data_dir must not be empty");
  if (!c.admin_usernames.empty()) {
    return bad(
        "--admin / admin_usernames no longer grant the admin role (whoever signed a listed name up "
        "first became an admin); give it to an existing account with `parleyd admin grant NAME` "
        "(same --data-dir or --store), or create one with `parleyd admin create-user`");
  }
  if (c.threads < 0 || c.threads > 256) return bad("threads must be 0-256");
  if (c.blocking_threads < 1 || c.blocking_threads > 256) return bad("blocking_threads must be 1-256");
  if (c.access_token_ttl_s < 1 || c.access_token_ttl_s > 900)
    return bad("access_token_ttl must be 1-900 seconds");
  if (c.refresh_token_ttl_s < 60) return bad("refresh_token_ttl must be at least 60 seconds");
  if (c.argon2_memlimit_kib < 19456 || c.argon2_opslimit < 2)
    return bad("argon2 parameters must be at least OWASP's (19456 KiB, 2 passes)");
  if (c.presence_offline_after_ms < 0) return bad("presence_offline_after_ms must be >= 0");
  if (c.ws_idle_timeout_ms < 1000) return bad("ws_idle_timeout_ms must be >= 1000");
  if (c.ws_receipt_window_ms < 0 || c.ws_receipt_window_ms > 10000)
    return bad("ws_receipt_window_ms must be 0-10000");
  if (c.request_timeout_ms < 100 || c.request_timeout_ms > 600000)
    return bad("request_timeout_ms must be 100-600000");
  if (c.max_message_body_bytes < 1 || c.max_message_body_bytes > (1u << 20))
    return bad("max_message_body_bytes must be 1 B - 1 MiB");
  if (c.max_request_body_bytes < c.max_message_body_bytes * 2)
    return bad("max_request_body_bytes must be at least twice max_message_body_bytes");
  if (c.rate_signup_per_min < 0 || c.rate_login_per_min < 0 || c.rate_send_per_min < 0 ||
      c.rate_upload_per_min < 0 || c.rate_claim_per_min < 0 || c.rate_typing_per_min < 0 ||
      c.rate_to_device_per_min < 0 || c.rate_to_device_bytes_per_min < 0)
    return bad("rate limits must be >= 0 (0 = unlimited)");
  if (c.typing_max_members < 0 || c.max_pending_to_device < 0 ||
      c.max_pending_to_device_bytes < 0)
    return bad("quotas must be >= 0 (0 = none)");
  if (c.max_group_members < 2 || c.max_group_members > 100000)
    return bad("max_group_members must be 2-100000");
  if (c.max_upload_bytes < 1 || c.max_upload_bytes > (1ull << 40))
    return bad("max_upload_bytes must be 1 B - 1 TiB");
  if (c.upload_deadline_s < 1 || c.upload_deadline_s > 86400)
    return bad("upload_deadline_s must be 1-86400");
  if (c.media_url_ttl_s < 1 || c.media_url_ttl_s > 7 * 86400)
    return bad("media_url_ttl must be 1 s - 7 days");
  if (c.push_max_attempts < 1 || c.push_max_attempts > 20) return bad("push_max_attempts must be 1-20");
  if (c.push_retry_base_ms < 1 || c.push_retry_base_ms > 600000)
    return bad("push_retry_base_ms must be 1-600000");
  for (const auto& n : c.push_allow_networks)
    if (auto parsed = ParseNetwork(n); !parsed.ok())
      return bad("push_allow_networks: " + parsed.error().message);
  if (c.sqlite_synchronous != "full" && c.sqlite_synchronous != "normal")
    return bad("sqlite_synchronous must be full or normal");
  auto starts = [](const std::string& v, std::string_view p) { return v.rfind(p, 0) == 0; };
  if (c.store != "sqlite" && !starts(c.store, "sqlite:///") && !starts(c.store, "postgres://") &&
      !starts(c.store, "postgresql://"))
    return bad("store must be sqlite, sqlite:///PATH or postgres://…");
  if (c.bus != "inproc" && !(starts(c.bus, "kafka://") && c.bus.size() > 8))
    return bad("bus must be inproc or kafka://HOST:PORT[,HOST:PORT…]");
  if (c.cluster != "memory" && !(starts(c.cluster, "redis://") && c.cluster.size() > 8))
    return bad("cluster must be memory or redis://HOST:PORT[/DB]");
  if (c.search != "sqlite" && !(starts(c.search, "opensearch://") && c.search.size() > 13))
    return bad("search must be sqlite or opensearch://HOST:PORT");
  if (c.ship_logs != "off" && !(starts(c.ship_logs, "opensearch://") && c.ship_logs.size() > 13))
    return bad("ship_logs must be off or opensearch://HOST:PORT");
  if (!c.messages.empty() && !starts(c.messages, "cassandra://"))
    return bad("messages must be empty or cassandra://USER:PASS@HOST:PORT/KEYSPACE");
  if (!c.messages.empty() && !starts(c.store, "postgres://") && !starts(c.store, "postgresql://"))
    return bad("messages in Cassandra need a postgres:// store");
  if (c.media_store.find("://") != std::string::npos && !starts(c.media_store, "s3://"))
    return bad("media_store must be a directory or s3://ACCESS_KEY:SECRET@HOST:PORT/BUCKET");
  if (c.node_id.size() > 64 ||
      c.node_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string::npos)
    return bad("node_id must be at most 64 letters, digits, '-', '_' or '.'");
  return OkStatus();
}

Status ApplyTomlFile(const std::string& path, Config* c) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config " + path + ": " + std::string(e.description()));
  }
  std::string unknown;
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    auto str = [&](std::string* out) { if (auto x = v.value<std::string>()) *out = *x; else unknown = key; };
    auto i64 = [&](auto* out) { if (auto x = v.value<int64_t>()) *out = static_cast<std::remove_pointer_t<decltype(out)>>(*x); else unknown = key; };
    if (key == "listen") str(&c->listen);
    else if (key == "data_dir") str(&c->data_dir);
    else if (key == "log_level") str(&c->log_level);
    else if (key == "issuer") str(&c->issuer);
    else if (key == "sqlite_synchronous") str(&c->sqlite_synchronous);
    else if (key == "web_root") str(&c->web_root);
    else if (key == "store") str(&c->store);
    else if (key == "bus") str(&c->bus);
    else if (key == "cluster") str(&c->cluster);
    else if (key == "search") str(&c->search);
    else if (key == "ship_logs") str(&c->ship_logs);
    else if (key == "messages") str(&c->messages);
    else if (key == "node_id") str(&c->node_id);
    else if (key == "media_dir") str(&c->media_dir);
    else if (key == "media_store") str(&c->media_store);
    else if (key == "secrets_dir") str(&c->secrets_dir);
    else if (key == "threads") i64(&c->threads);
    else if (key == "blocking_threads") i64(&c->blocking_threads);
    else if (key == "access_token_ttl") i64(&c->access_token_ttl_s);
    else if (key == "refresh_token_ttl") i64(&c->refresh_token_ttl_s);
    else if (key == "argon2_memlimit_kib") i64(&c->argon2_memlimit_kib);
    else if (key == "argon2_opslimit") i64(&c->argon2_opslimit);
    else if (key == "presence_offline_after_ms") i64(&c->presence_offline_after_ms);
    else if (key == "ws_idle_timeout_ms") i64(&c->ws_idle_timeout_ms);
    else if (key == "ws_receipt_window_ms") i64(&c->ws_receipt_window_ms);
    else if (key == "request_timeout_ms") i64(&c->request_timeout_ms);
    else if (key == "max_request_body_bytes") i64(&c->max_request_body_bytes);
    else if (key == "max_message_body_bytes") i64(&c->max_message_body_bytes);
    else if (key == "max_upload_bytes") i64(&c->max_upload_bytes);
    else if (key == "upload_deadline_s") i64(&c->upload_deadline_s);
    else if (key == "media_url_ttl") i64(&c->media_url_ttl_s);
    else if (key == "max_one_time_prekeys") i64(&c->max_one_time_prekeys);
    else if (key == "ws_max_outbox_bytes") i64(&c->ws_max_outbox_bytes);
    else if (key == "max_group_members") i64(&c->max_group_members);
    else if (key == "push_max_attempts") i64(&c->push_max_attempts);
    else if (key == "push_retry_base_ms") i64(&c->push_retry_base_ms);
    else if (key == "rate_signup_per_min") i64(&c->rate_signup_per_min);
    else if (key == "rate_login_per_min") i64(&c->rate_login_per_min);
    else if (key == "rate_send_per_min") i64(&c->rate_send_per_min);
    else if (key == "rate_upload_per_min") i64(&c->rate_upload_per_min);
    else if (key == "rate_claim_per_min") i64(&c->rate_claim_per_min);
    else if (key == "rate_typing_per_min") i64(&c->rate_typing_per_min);
    else if (key == "rate_to_device_per_min") i64(&c->rate_to_device_per_min);
    else if (key == "rate_to_device_bytes_per_min") i64(&c->rate_to_device_bytes_per_min);
    else if (key == "typing_max_members") i64(&c->typing_max_members);
    else if (key == "max_pending_to_device") i64(&c->max_pending_to_device);
    else if (key == "max_pending_to_device_bytes") i64(&c->max_pending_to_device_bytes);
    else if (key == "media_quota_bytes") i64(&c->media_quota_bytes);
    else if (key == "admin_usernames" || key == "ws_allowed_origins" || key == "trusted_proxies" ||
             key == "push_allow_networks") {
      auto& list = key == "admin_usernames"      ? c->admin_usernames
                   : key == "ws_allowed_origins"   ? c->ws_allowed_origins
                   : key == "push_allow_networks" ? c->push_allow_networks
                                                  : c->trusted_proxies;
      const toml::array* arr = v.as_array();
      if (!arr) unknown = key;
      else for (const auto& e : *arr) { if (auto x = e.value<std::string>()) list.push_back(*x); else unknown = key; }
    }
    else if (key == "allow_plaintext") { if (auto x = v.value<bool>()) c->allow_plaintext = *x; else unknown = key; }
    else unknown = key;
    if (!unknown.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config " + path + ": unknown key or wrong type: " + unknown);
    }
  }
  return OkStatus();
}

}  // namespace parley
