// OsLogShipper::SearchLogs: an admin's query over every node's shipped logs, as JSON (never
// query syntax), newest first.
#include <boost/json.hpp>

#include "storage/opensearch/os_log_shipper.h"

namespace parley::storage::opensearch {

namespace json = boost::json;

namespace {

constexpr size_t kMaxText = 256;

std::string StringOf(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<std::vector<LogHit>> OsLogShipper::SearchLogs(const LogQuery& q) {
  if (q.limit < 1 || q.limit > 200)
    return MakeError(ErrorCode::kInvalidArgument, "limit must be 1..200");
  if (q.text.size() > kMaxText)
    return MakeError(ErrorCode::kInvalidArgument, "q is longer than 256 bytes");
  json::array filter;
  if (q.min_level > 0)
    filter.push_back(json::object{{"range", {{"level_no", {{"gte", q.min_level}}}}}});
  if (!q.node.empty()) filter.push_back(json::object{{"term", {{"node", q.node}}}});
  if (q.since_ms > 0 || q.until_ms > 0) {
    json::object range{{"format", "epoch_millis"}};
    if (q.since_ms > 0) range["gte"] = q.since_ms;
    if (q.until_ms > 0) range["lt"] = q.until_ms;
    filter.push_back(json::object{{"range", {{"@timestamp", std::move(range)}}}});
  }
  json::object boolq{{"filter", std::move(filter)}};
  if (!q.text.empty())
    boolq["must"] = json::array{
        json::object{{"match", {{"line", {{"query", q.text}, {"operator", "and"}}}}}}};
  json::object body{{"size", q.limit},
                    {"track_total_hits", false},
                    {"sort", json::array{json::object{{"@timestamp", {{"order", "desc"}}}}}},
                    {"_source", json::array{"@timestamp", "level", "node", "msg", "line"}},
                    {"query", {{"bool", std::move(boolq)}}}};
  auto r = http_->Send("POST",
                       "/" + options_.prefix +
                           "logs-*/_search?ignore_unavailable=true&allow_no_indices=true",
                       json::serialize(body));
  if (!r.ok()) return r.error();
  if (r->status != 200) return OsRefused("a log search", *r);
  auto v = OsParseBody("a log search", *r);
  if (!v.ok()) return v.error();
  std::vector<LogHit> out;
  const auto* outer = v->as_object().if_contains("hits");
  const auto* inner = outer && outer->is_object() ? outer->as_object().if_contains("hits") : nullptr;
  if (!inner || !inner->is_array()) return out;
  for (const auto& h : inner->as_array()) {
    const auto* src = h.is_object() ? h.as_object().if_contains("_source") : nullptr;
    if (!src || !src->is_object()) continue;
    const auto& s = src->as_object();
    LogHit hit;
    const auto* ts = s.if_contains("@timestamp");
    hit.at = ts && ts->is_int64() ? ts->as_int64() : 0;
    hit.level = StringOf(s, "level");
    hit.node = StringOf(s, "node");
    hit.msg = StringOf(s, "msg");
    hit.line = StringOf(s, "line");
    out.push_back(std::move(hit));
  }
  return out;
}

}  // namespace parley::storage::opensearch
