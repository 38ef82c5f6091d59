#include "storage/redis/redis_connection_registry.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <unordered_set>

#include "common/ids.h"
#include "common/log.h"

namespace parley::storage::redis {

namespace {

// KEYS: uconn, dconn, nodeconns. ARGV: node, user count, device count, "<user> <device>".
const RedisScript kWrite(R"lua(
local node = ARGV[1]
local function put(key, n)
  if tonumber(n) > 0 then redis.call('HSET', key, node, n) else redis.call('HDEL', key, node) end
end
put(KEYS[1], ARGV[2])
put(KEYS[2], ARGV[3])
if tonumber(ARGV[3]) > 0 then
  redis.call('SADD', KEYS[3], ARGV[4])
else
  redis.call('SREM', KEYS[3], ARGV[4])
end
return 1
)lua");

// KEYS: a uconn or dconn hash. ARGV: heartbeat key prefix. Returns node, count, node, count…
// of the live nodes, and deletes the fields of the dead ones.
const RedisScript kLive(R"lua(
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return out
)lua");

// KEYS: heartbeat, nodeconns, nodes. ARGV: node, key prefix, batch. Removes up to `batch`
// entries of a dead node. Returns {-1} if it is alive, else {entries left (0: done), the users
// whose entries were removed…}.
const RedisScript kPurge(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local members = redis.call('SPOP', KEYS[2], tonumber(ARGV[3]))
local out = {0}
for _, m in ipairs(members) do
  local sp = string.find(m, ' ', 1, true)
  if sp then
    local user = string.sub(m, 1, sp - 1)
    redis.call('HDEL', ARGV[2] .. 'uconn:' .. user, ARGV[1])
    redis.call('HDEL', ARGV[2] .. 'dconn:' .. user .. ':' .. string.sub(m, sp + 1), ARGV[1])
    out[#out + 1] = user
  end
end
out[1] = redis.call('SCARD', KEYS[2])
if out[1] == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
return out
)lua");

// KEYS: uconn hashes. ARGV: heartbeat key prefix. Per key, the nodes holding connections whose
// heartbeat says they read addressed events ("a"); dead nodes are left for the sweeper.
const RedisScript kDeliveryNodes(R"lua(
local seen = {}
local out = {}
for k = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[k])
  local nodes = {}
  for i = 1, #all, 2 do
    local node = all[i]
    if seen[node] == nil then seen[node] = redis.call('GET', ARGV[1] .. node) or false end
    if seen[node] == 'a' and tonumber(all[i + 1]) > 0 then nodes[#nodes + 1] = node end
  end
  out[k] = nodes
end
return out
)lua");

// KEYS: the nodes set. ARGV: heartbeat key prefix. Returns node, heartbeat, … of the live ones.
const RedisScript kLiveNodes(R"lua(
local out = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local beat = redis.call('GET', ARGV[1] .. node)
  if beat then
    out[#out + 1] = node
    out[#out + 1] = beat
  end
end
return out
)lua");

constexpr std::string_view kPurgeBatch = "500";
constexpr std::string_view kAddressedBeat = "a";

Error BadId() { return MakeError(ErrorCode::kInvalidArgument, "invalid user or device id"); }

bool ValidPrefix(std::string_view p) {
  return p.size() <= 64 && p.find_first_of(" \r\n") == std::string_view::npos;
}

std::string Member(std::string_view user, std::string_view device) {
  std::string m(user);
  m += ' ';
  m += device;
  return m;
}

std::string ChooseNodeId(const std::string& configured) {
  return configured.empty() ? "node-" + NewUuidV4() : configured;
}

}  // namespace

RedisConnectionRegistry::RedisConnectionRegistry(RedisClient& client, RedisRegistryOptions options,
                                                 RedisClient* route_reads)
    : client_(client),
      route_reads_(route_reads ? *route_reads : client),
      options_(std::move(options)),
      node_id_(ChooseNodeId(options_.node_id)),
      heartbeat_key_(options_.key_prefix + "node:" + node_id_) {}

RedisConnectionRegistry::~RedisConnectionRegistry() { Stop(); }

Status RedisConnectionRegistry::Start() {
  if (!ValidClusterId(node_id_) || !ValidPrefix(options_.key_prefix)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid node id or key prefix");
  }
  if (Status s = Resync(); !s.ok()) return s;
  std::lock_guard lock(run_mu_);
  if (running_) return OkStatus();
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

void RedisConnectionRegistry::StopThread() {
  {
    std::lock_guard lock(run_mu_);
    if (!running_) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(run_mu_);
  running_ = false;
}

void RedisConnectionRegistry::Abandon() { StopThread(); }

void RedisConnectionRegistry::SetOnUsersPurged(UsersPurged fn) {
  std::lock_guard lock(purged_mu_);
  on_users_purged_ = std::move(fn);
}

void RedisConnectionRegistry::Stop() {
  bool was_running;
  {
    std::lock_guard lock(run_mu_);
    was_running = running_;
  }
  if (!was_running) return;
  StopThread();
  std::unique_lock resync(resync_mu_);
  auto r = client_.Command({"DEL", heartbeat_key_});
  if (!r.ok() || !Purge(node_id_, nullptr)) {
    LogWarn("redis registry: could not remove this node's entries; they expire with its heartbeat",
            {{"node", node_id_}});
  }
}

void RedisConnectionRegistry::Run() {
  int beats = 0;
  std::unique_lock lock(run_mu_);
  while (!stopping_) {
    run_cv_.wait_for(lock, std::chrono::milliseconds(options_.heartbeat_interval_ms),
                     [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    bool lost = false;
    Status hb = Heartbeat(&lost);
    if (hb.ok() && (lost || dirty_.load())) {
      if (lost) {
        LogWarn("redis registry: heartbeat was lost; rewriting this node's state",
                {{"node", node_id_}});
      }
      if (Status s = Resync(); !s.ok()) {
        LogWarn("redis registry: resync failed",
                {{"node", node_id_}, {"error", s.error().message}});
      }
    } else if (!hb.ok()) {
      dirty_ = true;  // our heartbeat may expire meanwhile: rewrite everything once Redis is back
      LogWarn("redis registry: heartbeat failed",
              {{"node", node_id_}, {"error", hb.error().message}});
    }
    if (hb.ok() && options_.sweep_every_beats > 0 && ++beats % options_.sweep_every_beats == 0) {
      Sweep();
    }
    lock.lock();
  }
}

Status RedisConnectionRegistry::Heartbeat(bool* lost) {
  std::string ttl = std::to_string(options_.heartbeat_ttl_ms);
  auto r = client_.Command({"SET", heartbeat_key_, Beat(), "PX", ttl, "XX"});
  if (!r.ok()) return r.error();
  *lost = r->is_nil();  // XX: nil when the key had expired or Redis lost it
  return OkStatus();
}

Status RedisConnectionRegistry::Resync() {
  std::unique_lock resync(resync_mu_);
  std::string ttl = std::to_string(options_.heartbeat_ttl_ms);
  auto hb = client_.Command({"SET", heartbeat_key_, Beat(), "PX", ttl});
  if (!hb.ok()) return hb.error();
  auto reg = client_.Command({"SADD", options_.key_prefix + "nodes", node_id_});
  if (!reg.ok()) return reg.error();
  // Writes are excluded by resync_mu_, so users_ cannot change under us.
  std::unordered_map<std::string, User> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = users_;
  }
  for (const auto& [user, u] : snapshot) {
    for (const auto& [device, n] : u.devices) {
      if (Status s = Write(user, device, u.connections, n); !s.ok()) return s;
    }
  }
  // Entries Redis has but we do not: a failed Disconnected(), or a previous run of this node.
  auto members = client_.Command({"SMEMBERS", options_.key_prefix + "nodeconns:" + node_id_});
  if (!members.ok()) return members.error();
  if (members->type != RedisReply::Type::kArray) {
    return MakeError(ErrorCode::kInternal, "redis: SMEMBERS did not return an array");
  }
  for (const auto& m : members->elements) {
    if (m.type != RedisReply::Type::kString) continue;
    size_t sp = m.str.find(' ');
    if (sp == std::string::npos) continue;
    std::string user = m.str.substr(0, sp), device = m.str.substr(sp + 1);
    if (!ValidClusterId(user) || !ValidClusterId(device)) continue;
    auto u = snapshot.find(user);
    int64_t user_count = u == snapshot.end() ? 0 : u->second.connections;
    if (u != snapshot.end() && u->second.devices.count(device)) continue;
    if (Status s = Write(user, device, user_count, 0); !s.ok()) return s;
  }
  dirty_ = false;
  return OkStatus();
}

void RedisConnectionRegistry::Sweep() {
  auto nodes = client_.Command({"SMEMBERS", options_.key_prefix + "nodes"});
  if (!nodes.ok() || nodes->type != RedisReply::Type::kArray) return;
  for (const auto& n : nodes->elements) {
    if (n.type != RedisReply::Type::kString || n.str == node_id_ || !ValidClusterId(n.str)) {
      continue;
    }
    auto alive = client_.Command({"EXISTS", options_.key_prefix + "node:" + n.str});
    if (!alive.ok() || alive->type != RedisReply::Type::kInteger || alive->integer != 0) continue;
    std::vector<std::string> users;
    if (Purge(n.str, &users)) {
      LogInfo("redis registry: purged a dead node", {{"node", n.str}, {"users", users.size()}});
    }
    UsersPurged fn;
    {
      std::lock_guard lock(purged_mu_);
      fn = on_users_purged_;
    }
    if (fn && !users.empty()) {
      std::sort(users.begin(), users.end());
      users.erase(std::unique(users.begin(), users.end()), users.end());
      fn(users);
    }
  }
}

bool RedisConnectionRegistry::Purge(const std::string& node, std::vector<std::string>* users) {
  const std::string& p = options_.key_prefix;
  for (int round = 0; round < 10000; ++round) {
    auto r = client_.Eval(kPurge, {p + "node:" + node, p + "nodeconns:" + node, p + "nodes"},
                          {node, p, kPurgeBatch});
    if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.empty() ||
        r->elements[0].type != RedisReply::Type::kInteger || r->elements[0].integer < 0) {
      return false;
    }
    if (users) {
      for (size_t i = 1; i < r->elements.size(); ++i) {
        if (r->elements[i].type == RedisReply::Type::kString) users->push_back(r->elements[i].str);
      }
    }
    if (r->elements[0].integer == 0) return true;
  }
  return false;
}

Status RedisConnectionRegistry::Write(std::string_view user_id, std::string_view device_id,
                                      int64_t user_count, int64_t device_count) {
  const std::string& p = options_.key_prefix;
  std::string uc = std::to_string(user_count), dc = std::to_string(device_count);
  std::string user(user_id);
  auto r = client_.Eval(kWrite,
                        {p + "uconn:" + user, p + "dconn:" + user + ":" + std::string(device_id),
                         p + "nodeconns:" + node_id_},
                        {node_id_, uc, dc, Member(user_id, device_id)});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kInteger) {
    return MakeError(ErrorCode::kInternal, "redis: unexpected reply to the registry write");
  }
  return OkStatus();
}

Status RedisConnectionRegistry::Change(std::string_view user_id, std::string_view device_id,
                                       int delta) {
  if (!ValidClusterId(user_id) || !ValidClusterId(device_id)) return BadId();
  std::shared_lock resync(resync_mu_);
  std::lock_guard stripe(stripes_[std::hash<std::string_view>{}(user_id) % stripes_.size()]);
  int64_t user_count = 0, device_count = 0;
  {
    std::lock_guard lock(mu_);
    std::string user(user_id), device(device_id);
    if (delta > 0) {
      User& u = users_[user];
      user_count = ++u.connections;
      device_count = ++u.devices[device];
    } else {
      auto u = users_.find(user);
      if (u == users_.end()) return OkStatus();
      auto d = u->second.devices.find(device);
      if (d == u->second.devices.end()) return OkStatus();  // no matching Connected(): ignored
      device_count = --d->second;
      user_count = --u->second.connections;
      if (device_count == 0) u->second.devices.erase(d);
      if (user_count == 0) users_.erase(u);
    }
  }
  Status s = Write(user_id, device_id, user_count, device_count);
  if (!s.ok()) dirty_ = true;  // counted locally; the heartbeat thread rewrites it later
  return s;
}

Status RedisConnectionRegistry::Connected(std::string_view user_id, std::string_view device_id) {
  return Change(user_id, device_id, +1);
}

Status RedisConnectionRegistry::Disconnected(std::string_view user_id,
                                             std::string_view device_id) {
  return Change(user_id, device_id, -1);
}

Result<std::vector<std::pair<std::string, int64_t>>> RedisConnectionRegistry::Live(
    const std::string& key) {
  auto r = client_.Eval(kLive, {key}, {options_.key_prefix + "node:"});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kArray || r->elements.size() % 2 != 0) {
    return MakeError(ErrorCode::kInternal, "redis: unexpected reply to the registry read");
  }
  std::vector<std::pair<std::string, int64_t>> out;
  for (size_t i = 0; i < r->elements.size(); i += 2) {
    const auto& node = r->elements[i];
    const auto& count = r->elements[i + 1];
    if (node.type != RedisReply::Type::kString || count.type != RedisReply::Type::kString) {
      return MakeError(ErrorCode::kInternal, "redis: unexpected reply to the registry read");
    }
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(count.str.data(), count.str.data() + count.str.size(), n);
    if (ec != std::errc() || n < 0) {
      return MakeError(ErrorCode::kInternal, "redis: bad connection count");
    }
    if (n > 0) out.emplace_back(node.str, n);
  }
  return out;
}

Result<int64_t> RedisConnectionRegistry::UserConnections(std::string_view user_id) {
  if (!ValidClusterId(user_id)) return BadId();
  auto live = Live(options_.key_prefix + "uconn:" + std::string(user_id));
  if (!live.ok()) return live.error();
  int64_t total = 0;
  for (const auto& [node, n] : *live) total += n;
  return total;
}

Result<bool> RedisConnectionRegistry::DeviceOnline(std::string_view user_id,
                                                   std::string_view device_id) {
  if (!ValidClusterId(user_id) || !ValidClusterId(device_id)) return BadId();
  auto live = Live(options_.key_prefix + "dconn:" + std::string(user_id) + ":" +
                   std::string(device_id));
  if (!live.ok()) return live.error();
  return !live->empty();
}

Result<std::vector<std::string>> RedisConnectionRegistry::NodesOf(std::string_view user_id) {
  if (!ValidClusterId(user_id)) return BadId();
  auto live = Live(options_.key_prefix + "uconn:" + std::string(user_id));
  if (!live.ok()) return live.error();
  std::vector<std::string> nodes;
  for (auto& [node, n] : *live) nodes.push_back(std::move(node));
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

Result<std::vector<std::vector<std::string>>> RedisConnectionRegistry::DeliveryNodes(
    const std::vector<std::string>& user_ids) {
  std::vector<std::string> keys;
  keys.reserve(user_ids.size());
  for (const auto& u : user_ids) {
    if (!ValidClusterId(u)) return BadId();
    keys.push_back(options_.key_prefix + "uconn:" + u);
  }
  std::vector<std::vector<std::string>> out(user_ids.size());
  if (keys.empty()) return out;
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  const std::string beat_prefix = options_.key_prefix + "node:";
  auto r = route_reads_.Eval(kDeliveryNodes, key_views, {beat_prefix});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kArray || r->elements.size() != keys.size()) {
    return MakeError(ErrorCode::kInternal, "redis: unexpected reply to the delivery nodes read");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    for (const auto& n : r->elements[i].elements) {
      if (n.type == RedisReply::Type::kString) out[i].push_back(n.str);
    }
    std::sort(out[i].begin(), out[i].end());
  }
  return out;
}

Result<std::vector<ConnectionRegistry::LiveNode>> RedisConnectionRegistry::LiveNodes() {
  const std::string nodes_key = options_.key_prefix + "nodes";
  const std::string beat_prefix = options_.key_prefix + "node:";
  auto r = route_reads_.Eval(kLiveNodes, {nodes_key}, {beat_prefix});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kArray || r->elements.size() % 2 != 0) {
    return MakeError(ErrorCode::kInternal, "redis: unexpected reply to the live nodes read");
  }
  std::vector<LiveNode> out;
  for (size_t i = 0; i < r->elements.size(); i += 2) {
    out.push_back({r->elements[i].str, r->elements[i + 1].str == kAddressedBeat});
  }
  std::sort(out.begin(), out.end(),
            [](const LiveNode& a, const LiveNode& b) { return a.node_id < b.node_id; });
  return out;
}

}  // namespace parley::storage::redis
