// Profile: the adapters parleyd runs on, chosen by the config's URIs (DESIGN.md "Deployment
// profiles"): the stores (sqlite | postgres), the event bus (inproc | kafka), the cluster
// state (memory | redis) and the media blobs (a local directory | an S3-compatible store). The
// composition root (parleyd_main.cc) builds the services on the interfaces this exposes and never
// names an adapter itself.
//
// Order of use: Open → services subscribe to bus() → StartBus() → serve → StopBus() → Close().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "events/event_bus.h"
#include "services/context.h"
#include "storage/audit_store.h"
#include "storage/auth_store.h"
#include "storage/blob_store.h"
#include "storage/cluster_state.h"
#include "storage/group_store.h"
#include "storage/key_store.h"
#include "storage/media_store.h"
#include "storage/message_outbox.h"
#include "storage/message_store.h"
#include "storage/notify_store.h"
#include "storage/log_search.h"
#include "storage/search_index.h"
#include "storage/sqlite/writer.h"

namespace parley::storage::opensearch {
class OsLogShipper;
}

namespace parley::exe {

class Profile {
 public:
  // Opens the stores (applying migrations) and connects to the cluster state. kUnavailable
  // (unreachable engine) or kInvalidArgument (bad URI) with a message naming the setting.
  static Result<std::unique_ptr<Profile>> Open(const Config& cfg,
                                               const storage::sqlite::WriteFaults& faults);
  ~Profile();

  storage::AuthStore& auth() { return *auth_; }
  storage::KeyStore& keys() { return *keys_; }
  storage::MessageStore& messages() { return *messages_; }
  storage::GroupStore& groups() { return *groups_; }
  storage::MediaStore& media() { return *media_; }
  storage::BlobStore& blobs() { return *blobs_; }  // media bytes
  storage::AuditStore& audit() { return *audit_; }
  storage::NotifyStore& notify() { return *notify_; }
  events::EventBus& bus() { return *bus_; }
  storage::ConnectionRegistry& registry() { return *registry_; }
  // The store's transactional outbox (PostgreSQL with Kafka), or nullptr.
  storage::MessageOutbox* outbox() { return outbox_; }
  // Revocations every node sees at once (Redis), or nullptr: one node's memory is enough.
  storage::RevocationList* revocations() { return revocations_; }
  const services::RateLimits::MakeLimiter& make_limiter() const { return make_limiter_; }

  const std::string& node_id() const { return node_id_; }
  const std::string& media_dir() const { return media_dir_; }  // "" when blobs are in S3
  const std::string& secrets_dir() const { return secrets_dir_; }
  bool scale_out() const { return scale_out_; }  // some adapter is shared with other nodes
  // Live events go only to the nodes holding their recipients (services/delivery): the bus
  // addresses nodes (Kafka) and the registry is shared (Redis), which then says this node reads
  // the events addressed to it.
  bool routes_deliveries() const { return routes_deliveries_; }

  // Called (on a registry thread; must not block) with users whose connections were held by a
  // node that crashed, so that presence can re-evaluate them. A no-op in the embedded profile.
  void OnUsersPurged(std::function<void(const std::vector<std::string>&)> fn);
  // Starts consuming events (Kafka joins its consumer groups); call after every Subscribe.
  Status StartBus();
  void StopBus();
  // Stops the cluster state (this node's connections are withdrawn) and closes the stores.
  void Close();

  // The adapters' counters and per-stage timings (store writer, Cassandra rows, Kafka), for
  // /metrics; `m` must not render after this profile is destroyed.
  void RegisterMetrics(Metrics& m) const;
  std::string Describe() const;  // "store=postgres bus=kafka cluster=redis media=s3" (no credentials)

 private:
  Profile() = default;
  struct Owned;
  static Status OpenCassandraMessages(const Config& cfg, Owned& o, Profile* p);
  std::unique_ptr<Owned> owned_;
  storage::AuthStore* auth_ = nullptr;
  storage::KeyStore* keys_ = nullptr;
  storage::MessageStore* messages_ = nullptr;
  storage::GroupStore* groups_ = nullptr;
  storage::MediaStore* media_ = nullptr;
  storage::BlobStore* blobs_ = nullptr;
  storage::AuditStore* audit_ = nullptr;
  storage::NotifyStore* notify_ = nullptr;
  events::EventBus* bus_ = nullptr;
  storage::ConnectionRegistry* registry_ = nullptr;
  storage::RevocationList* revocations_ = nullptr;
  storage::MessageOutbox* outbox_ = nullptr;
  services::RateLimits::MakeLimiter make_limiter_;
  std::string node_id_, media_dir_, secrets_dir_;
  std::string store_kind_, bus_kind_, cluster_kind_, media_kind_;
  bool scale_out_ = false;
  bool routes_deliveries_ = false;
  bool closed_ = false;
};

// The search index of cfg.search, opened: the embedded SQLite FTS (DATA_DIR/search.db, one per
// node: every node indexes every message event) or OpenSearch (opensearch://HOST:PORT, shared by
// every node). Errors as Profile::Open's.
struct SearchBackend {
  std::unique_ptr<storage::SearchIndex> index;
  std::function<void()> close;  // drains queued writes and stops the index's threads
  std::string kind;             // "sqlite" or "opensearch"
};
Result<SearchBackend> OpenSearchBackend(const Config& cfg);

// Log shipping (cfg.ship_logs): off, or every log line of this node sent to OpenSearch and
// searchable there. Construction installs the log tap; destruction removes it and sends what is
// queued (bounded). kUnavailable if OpenSearch does not answer at start.
class LogShipping {
 public:
  static Result<std::unique_ptr<LogShipping>> Start(const Config& cfg, const std::string& node_id);
  ~LogShipping();
  storage::LogSearch* search();  // nullptr when off

 private:
  LogShipping() = default;
  std::unique_ptr<storage::opensearch::OsLogShipper> shipper_;
};

}  // namespace parley::exe
