#include "exe/profile.h"

#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "events/inproc_bus.h"
#include "events/kafka_bus.h"
#include "storage/cached_auth_store.h"
#include "storage/cassandra/cassandra_message_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/local/memory_cluster_state.h"
#include "storage/postgres/postgres_store.h"
#include "storage/redis/redis_client.h"
#include "storage/redis/redis_connection_registry.h"
#include "storage/redis/redis_hot_cache.h"
#include "storage/redis/redis_rate_limiter.h"
#include "storage/redis/redis_revocation_list.h"
#include "storage/opensearch/opensearch_index.h"
#include "storage/opensearch/os_log_shipper.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite_search/sqlite_search_index.h"

namespace parley::exe {

struct Profile::Owned {
  std::unique_ptr<storage::sqlite::SqliteStore> sqlite;
  std::unique_ptr<storage::postgres::PostgresStore> postgres;
  // Message rows in Cassandra (--messages): destroyed before `postgres`, after Close closed it.
  std::unique_ptr<storage::cassandra::CqlClient> cql;
  std::unique_ptr<storage::cassandra::CassandraMessageStore> cassandra_messages;
  std::unique_ptr<events::InProcessBus> inproc;
  std::unique_ptr<events::KafkaBus> kafka;
  std::unique_ptr<storage::MemoryConnectionRegistry> memory_registry;
  std::unique_ptr<storage::redis::RedisClient> redis;
  std::unique_ptr<storage::redis::RedisClient> redis_limits;  // short timeouts: called on I/O threads
  std::unique_ptr<storage::redis::RedisConnectionRegistry> redis_registry;
  std::unique_ptr<storage::redis::RedisRevocationList> redis_revocations;
  std::unique_ptr<storage::redis::RedisHotCache> redis_cache;
  std::unique_ptr<storage::CachedAuthStore> cached_auth;  // in front of the store's AuthStore
  std::unique_ptr<storage::local::LocalBlobStore> local_blobs;
  std::unique_ptr<storage::s3::S3BlobStore> s3_blobs;
};

namespace {

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

std::string DefaultNodeId(const Config& cfg) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string id;
  for (const char* p = host; *p && id.size() < 48; ++p) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    id += ok ? c : '-';
  }
  if (id.empty()) id = "parleyd";
  return id + "-" + std::to_string(cfg.port());
}

// Every store interface from one adapter object.
template <typename S>
void Bind(S* s, storage::AuthStore** a, storage::KeyStore** k, storage::MessageStore** m,
          storage::GroupStore** g, storage::MediaStore** md, storage::AuditStore** au,
          storage::NotifyStore** n) {
  *a = s; *k = s; *m = s; *g = s; *md = s; *au = s; *n = s;
}

}  // namespace

// --messages cassandra://USER:PASS@HOST:PORT/KEYSPACE[?consistency=…]: message rows in
// Cassandra, the rest of the message store in PostgreSQL (storage/cassandra/README.md).
Status Profile::OpenCassandraMessages(const Config& cfg, Owned& o, Profile* p) {
  std::string url = cfg.messages;
  storage::cassandra::CassMessagesOptions options;
  if (auto q = url.find('?'); q != std::string::npos) {
    std::string query = url.substr(q + 1);
    url.resize(q);
    using storage::cassandra::Consistency;
    if (query == "consistency=one") options.write_consistency = Consistency::kOne;
    else if (query == "consistency=quorum") options.write_consistency = Consistency::kQuorum;
    else if (query == "consistency=local_quorum") options.write_consistency = Consistency::kLocalQuorum;
    else return MakeError(ErrorCode::kInvalidArgument, "messages: unknown option (consistency=one|quorum|local_quorum)");
    options.read_consistency = options.write_consistency;
  }
  auto parsed = storage::cassandra::ParseCqlUrl(url);
  if (!parsed.ok()) return MakeError(ErrorCode::kInvalidArgument, "messages: " + parsed.error().message);
  if (!parsed->keyspace.empty()) options.keyspace = parsed->keyspace;
  options.max_body_bytes = cfg.max_request_body_bytes;
  const std::string where = parsed->host + ":" + std::to_string(parsed->port);  // no credentials
  // Each Cassandra call holds a pooled connection for its round trip, and each row write holds a
  // writer thread: enough of both that sends of many conversations overlap (measured in
  // docs/benchmarks.md: 4 and 4 capped three nodes at a third of the PostgreSQL-only rate).
  constexpr int kCassandraWriters = 16;
  storage::cassandra::CqlOptions cql_options;
  cql_options.pool_size = kCassandraWriters + 8;  // the writers, and readers on the blocking pool
  o.cql = std::make_unique<storage::cassandra::CqlClient>(*parsed, cql_options);
  o.cassandra_messages = std::make_unique<storage::cassandra::CassandraMessageStore>(
      *o.postgres, *o.cql, options, kCassandraWriters);
  if (Status st = o.cassandra_messages->Open(); !st.ok())
    return MakeError(st.error().code, "messages (Cassandra " + where + "): " + st.error().message);
  p->messages_ = o.cassandra_messages.get();
  p->groups_ = o.cassandra_messages.get();
  p->store_kind_ = "postgres+cassandra";
  return OkStatus();
}

namespace {

template <typename Store>
void RegisterWriterMetrics(Metrics& m, const Store* store) {
  m.CounterFn("parley_store_commit_batches_total", "Group commits of the store",
              [store] { return static_cast<double>(store->commit_batches()); });
  m.CounterFn("parley_store_committed_writes_total", "Writes committed by the store",
              [store] { return static_cast<double>(store->committed_jobs()); });
  if (const Histogram* h = store->batch_seconds()) {
    m.HistogramRef("parley_store_batch_seconds",
                   "One group commit of the store's writer: its transaction, first statement to "
                   "commit (retries included)",
                   h);
  }
  if (const Histogram* h = store->write_seconds()) {
    m.HistogramRef("parley_store_write_seconds",
                   "One write of the store's writer: queued to committed (waiting for the batch "
                   "before it included)",
                   h);
  }
}

}  // namespace

void Profile::RegisterMetrics(Metrics& m) const {
  const Owned& o = *owned_;
  if (const auto* pg = o.postgres.get()) {
    RegisterWriterMetrics(m, pg);
    m.CounterFn("parley_store_round_trips_total",
                "Round trips of the PostgreSQL writer (statements and pipelines); per write: "
                "divide by parley_store_committed_writes_total",
                [pg] { return static_cast<double>(pg->writer_round_trips()); });
  }
  if (o.sqlite) {
    RegisterWriterMetrics(m, o.sqlite.get());
    const storage::sqlite::SqliteStore* sqlite = o.sqlite.get();
    m.CounterFn("parley_store_projection_commits_total",
                "Commits of the database's transaction under the redo log (sends and marks are "
                "durable in the log before it; docs/architecture.md, Durability)",
                [sqlite] { return static_cast<double>(sqlite->projection_commits()); });
    m.CounterFn("parley_store_checkpoints_total",
                "WAL checkpoint passes on the checkpoint thread (storage/sqlite/checkpointer.h)",
                [sqlite] { return static_cast<double>(sqlite->checkpoint_passes()); });
    m.CounterFn("parley_store_checkpoint_catch_ups_total",
                "WAL tails the SQLite writer copied itself between batches",
                [sqlite] { return static_cast<double>(sqlite->checkpoint_catch_ups()); });
  }
  if (const auto* c = o.cassandra_messages.get()) {
    m.HistogramRef("parley_cassandra_row_wait_seconds",
                   "An appended message's PostgreSQL commit to a Cassandra writer thread taking it",
                   &c->row_wait_seconds());
    m.HistogramRef("parley_cassandra_row_write_seconds",
                   "One message row written to Cassandra (a round trip at the configured "
                   "consistency)",
                   &c->row_write_seconds());
  }
  if (const auto* k = o.kafka.get()) {
    m.CounterFn("parley_events_published_total", "Events published on the bus",
                [k] { return static_cast<double>(k->published()); });
    m.HistogramRef("parley_kafka_publish_seconds",
                   "An event handed to the Kafka producer to the broker's acknowledgement",
                   &k->publish_seconds());
    m.HistogramRef("parley_kafka_transit_seconds",
                   "A record's producer timestamp to this node's consumer handling it (wall "
                   "clocks, millisecond resolution)",
                   &k->transit_seconds());
  }
  if (const auto* b = o.inproc.get()) {
    m.CounterFn("parley_events_published_total", "Events published on the bus",
                [b] { return static_cast<double>(b->published()); });
  }
}

Result<std::unique_ptr<Profile>> Profile::Open(const Config& cfg,
                                               const storage::sqlite::WriteFaults& faults) {
  std::unique_ptr<Profile> p(new Profile());
  p->owned_ = std::make_unique<Owned>();
  Owned& o = *p->owned_;
  p->node_id_ = cfg.node_id.empty() ? DefaultNodeId(cfg) : cfg.node_id;
  p->media_dir_ = cfg.media_dir.empty() ? cfg.data_dir + "/media" : cfg.media_dir;
  p->secrets_dir_ = cfg.secrets_dir.empty() ? cfg.data_dir : cfg.secrets_dir;

  // Stores.
  if (StartsWith(cfg.store, "postgres://") || StartsWith(cfg.store, "postgresql://")) {
    storage::postgres::PostgresOptions options{cfg.store};
    // A shared bus's publish can be lost after the commit: appends record an outbox entry.
    options.outbox = StartsWith(cfg.bus, "kafka://");
    o.postgres = std::make_unique<storage::postgres::PostgresStore>(options);
    if (Status st = o.postgres->Open(); !st.ok())
      return MakeError(st.error().code, "store (PostgreSQL): " + st.error().message);
    Bind(o.postgres.get(), &p->auth_, &p->keys_, &p->messages_, &p->groups_, &p->media_,
         &p->audit_, &p->notify_);
    p->store_kind_ = "postgres";
    if (options.outbox) p->outbox_ = o.postgres.get();
    p->scale_out_ = true;
    if (!cfg.messages.empty()) {
      if (Status st = OpenCassandraMessages(cfg, o, p.get()); !st.ok()) return st.error();
    }
  } else {
    std::string path = cfg.store == "sqlite" ? cfg.data_dir + "/parley.db"
                                             : cfg.store.substr(std::string_view("sqlite://").size());
    storage::sqlite::SqliteOptions options{path, cfg.sqlite_synchronous};
    options.faults = faults;
    o.sqlite = std::make_unique<storage::sqlite::SqliteStore>(options);
    if (Status st = o.sqlite->Open(); !st.ok())
      return MakeError(st.error().code, "cannot open the database: " + st.error().message);
    Bind(o.sqlite.get(), &p->auth_, &p->keys_, &p->messages_, &p->groups_, &p->media_,
         &p->audit_, &p->notify_);
    p->store_kind_ = "sqlite";
  }

  // Media blobs: a directory (--media-store DIR, else --media-dir, else DATA_DIR/media) or S3.
  if (StartsWith(cfg.media_store, "s3://")) {
    auto url = storage::s3::ParseS3Url(cfg.media_store);
    if (!url.ok()) return MakeError(ErrorCode::kInvalidArgument, "media_store: " + url.error().message);
    storage::s3::S3Options options;
    options.url = *url;
    o.s3_blobs = std::make_unique<storage::s3::S3BlobStore>(options);
    if (Status st = o.s3_blobs->Open(); !st.ok())
      return MakeError(st.error().code, "media store (" + url->Redacted() + "): " + st.error().message);
    p->blobs_ = o.s3_blobs.get();
    p->media_dir_.clear();
    p->media_kind_ = "s3";
  } else {
    if (!cfg.media_store.empty()) p->media_dir_ = cfg.media_store;
    std::error_code ec;
    std::filesystem::create_directories(p->media_dir_, ec);
    if (ec) return MakeError(ErrorCode::kUnavailable, "cannot create " + p->media_dir_ + ": " + ec.message());
    o.local_blobs = std::make_unique<storage::local::LocalBlobStore>(p->media_dir_);
    if (Status st = o.local_blobs->Open(); !st.ok())
      return MakeError(st.error().code, "cannot open the media store: " + st.error().message);
    p->blobs_ = o.local_blobs.get();
    p->media_kind_ = "local";
  }

  // Event bus.
  if (StartsWith(cfg.bus, "kafka://")) {
    events::KafkaBusOptions options;
    options.brokers = cfg.bus.substr(std::string_view("kafka://").size());
    options.node_id = p->node_id_;
    o.kafka = std::make_unique<events::KafkaBus>(options);
    p->bus_ = o.kafka.get();
    p->bus_kind_ = "kafka";
    p->scale_out_ = true;
  } else {
    o.inproc = std::make_unique<events::InProcessBus>();
    p->bus_ = o.inproc.get();
    p->bus_kind_ = "inproc";
  }

  // Cluster state: connection registry and rate limits.
  if (StartsWith(cfg.cluster, "redis://")) {
    auto url = storage::redis::ParseRedisUrl(cfg.cluster);
    if (!url.ok()) return MakeError(ErrorCode::kInvalidArgument, "cluster: " + url.error().message);
    o.redis = std::make_unique<storage::redis::RedisClient>(*url, storage::redis::RedisOptions{});
    if (Status st = o.redis->Ping(); !st.ok())
      return MakeError(ErrorCode::kUnavailable, "cluster (Redis): " + st.error().message);
    // Limiters are asked on I/O threads, and delivery routes on the store's completion thread:
    // their own connections, with short timeouts, so that a slow Redis costs a request at most
    // ~200 ms (then the failure mode below, or the router's fallback, applies).
    storage::redis::RedisOptions fast;
    fast.connect_timeout_ms = 200;
    fast.command_timeout_ms = 200;
    o.redis_limits = std::make_unique<storage::redis::RedisClient>(*url, fast);
    auto* client = o.redis_limits.get();
    p->routes_deliveries_ = o.kafka != nullptr;
    storage::redis::RedisRegistryOptions ro;
    ro.node_id = p->node_id_;
    ro.reads_addressed = p->routes_deliveries_;
    o.redis_registry =
        std::make_unique<storage::redis::RedisConnectionRegistry>(*o.redis, ro, client);
    if (Status st = o.redis_registry->Start(); !st.ok())
      return MakeError(ErrorCode::kUnavailable, "cluster (Redis): " + st.error().message);
    p->registry_ = o.redis_registry.get();
    // Signup and login fail closed when Redis is unreachable (guessing must stay bounded); sends
    // (send-to-device too), uploads and typing fall back to a per-node bucket so that an outage
    // does not stop messaging.
    p->make_limiter_ = [client](const std::string& name, double per_minute, double burst)
        -> std::unique_ptr<storage::SharedRateLimiter> {
      storage::redis::RedisRateLimiterOptions lo;
      lo.on_failure = StartsWith(name, "send") || StartsWith(name, "upload") ||
                              StartsWith(name, "typing")
                          ? storage::redis::RateLimitFailure::kLocalBucket
                          : storage::redis::RateLimitFailure::kFailClosed;
      return std::make_unique<storage::redis::RedisRateLimiter>(*client, name, per_minute, burst, lo);
    };
    // Revocations are checked on every authenticated request (I/O threads) and the user cache
    // is read for every direct message: both on the short-timeout connections.
    o.redis_revocations = std::make_unique<storage::redis::RedisRevocationList>(*client);
    p->revocations_ = o.redis_revocations.get();
    o.redis_cache = std::make_unique<storage::redis::RedisHotCache>(*client);
    o.cached_auth = std::make_unique<storage::CachedAuthStore>(*p->auth_, *o.redis_cache);
    p->auth_ = o.cached_auth.get();
    p->cluster_kind_ = "redis";
    p->scale_out_ = true;
  } else {
    o.memory_registry = std::make_unique<storage::MemoryConnectionRegistry>(p->node_id_);
    p->registry_ = o.memory_registry.get();
    p->make_limiter_ = [](const std::string&, double per_minute, double burst)
        -> std::unique_ptr<storage::SharedRateLimiter> {
      return std::make_unique<storage::MemoryRateLimiter>(per_minute, burst);
    };
    p->cluster_kind_ = "memory";
  }
  return p;
}

Profile::~Profile() { Close(); }

void Profile::OnUsersPurged(std::function<void(const std::vector<std::string>&)> fn) {
  if (owned_->redis_registry) owned_->redis_registry->SetOnUsersPurged(std::move(fn));
}

Status Profile::StartBus() {
  if (owned_->kafka) {
    if (Status st = owned_->kafka->Start(); !st.ok())
      return MakeError(st.error().code, "bus (Kafka): " + st.error().message);
  }
  return OkStatus();
}

void Profile::StopBus() {
  if (owned_ && owned_->kafka) owned_->kafka->Stop();
}

void Profile::Close() {
  if (closed_ || !owned_) return;
  closed_ = true;
  StopBus();
  if (owned_->redis_registry) owned_->redis_registry->Stop();
  if (owned_->postgres) owned_->postgres->Close();
  if (owned_->sqlite) owned_->sqlite->Close();
}

std::string Profile::Describe() const {
  return "store=" + store_kind_ + " bus=" + bus_kind_ + " cluster=" + cluster_kind_ +
         " media=" + media_kind_ + " deliveries=" + (routes_deliveries_ ? "routed" : "broadcast");
}

Result<SearchBackend> OpenSearchBackend(const Config& cfg) {
  SearchBackend b;
  if (cfg.search == "sqlite") {
    auto index = std::make_unique<storage::sqlite::SqliteSearchIndex>(
        storage::sqlite::SearchIndexOptions{cfg.data_dir + "/search.db"});
    if (Status st = index->Open(); !st.ok())
      return MakeError(st.error().code, "cannot open the search index: " + st.error().message);
    auto* raw = index.get();
    b.close = [raw] { raw->Close(); };
    b.index = std::move(index);
    b.kind = "sqlite";
    return b;
  }
  auto options = storage::opensearch::ParseOpenSearchUrl(cfg.search);
  if (!options.ok()) return options.error();
  auto index = std::make_unique<storage::opensearch::OpenSearchIndex>(*options);
  if (Status st = index->Open(); !st.ok())
    return MakeError(st.error().code, "search (" + cfg.search + "): " + st.error().message);
  auto* raw = index.get();
  b.close = [raw] { raw->Close(); };
  b.index = std::move(index);
  b.kind = "opensearch";
  return b;
}

Result<std::unique_ptr<LogShipping>> LogShipping::Start(const Config& cfg,
                                                       const std::string& node_id) {
  std::unique_ptr<LogShipping> s(new LogShipping());
  if (cfg.ship_logs == "off") return s;
  auto url = storage::opensearch::ParseOpenSearchUrl(cfg.ship_logs);
  if (!url.ok()) return MakeError(ErrorCode::kInvalidArgument, "ship_logs: " + url.error().message);
  storage::opensearch::LogShipperOptions o;
  o.host = url->host;
  o.port = url->port;
  o.node_id = node_id;
  s->shipper_ = std::make_unique<storage::opensearch::OsLogShipper>(o);
  if (Status st = s->shipper_->Start(); !st.ok())
    return MakeError(st.error().code, "ship_logs (" + cfg.ship_logs + "): " + st.error().message);
  SetLogTap(s->shipper_.get());
  return s;
}

LogShipping::~LogShipping() {
  if (!shipper_) return;
  SetLogTap(nullptr);
  shipper_->Stop();
}

storage::LogSearch* LogShipping::search() { return shipper_.get(); }

}  // namespace parley::exe
