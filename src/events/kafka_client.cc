#include "events/kafka_client.h"

#include <string_view>

#include "common/log.h"

namespace parley::events::detail {
namespace {

// librdkafka's own log lines (connection state, rebalances, protocol errors) carry no record
// contents, so they go to our log as they are, at the matching level.
void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  LogLevel l = level <= 3 ? LogLevel::kError
               : level == 4 ? LogLevel::kWarn
               : level <= 6 ? LogLevel::kInfo
                            : LogLevel::kDebug;
  if (!LogEnabled(l)) return;
  LogLine(l, "kafka client", {{"client", rd_kafka_name(rk)}, {"facility", facility},
                              {"detail", message}});
}

void OnError(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char detail[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, detail, sizeof detail);
    LogError("kafka client fatal error", {{"client", rd_kafka_name(rk)},
                                          {"error", rd_kafka_err2name(fatal)},
                                          {"detail", std::string_view(detail)}});
    return;
  }
  LogWarn("kafka client error", {{"client", rd_kafka_name(rk)},
                                 {"error", rd_kafka_err2name(code)},
                                 {"detail", reason}});
}

}  // namespace

KafkaConf NewConf() {
  KafkaConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  // Small requests leave at once: with Nagle's algorithm a produce or fetch can wait for the
  // previous one's ACK (tens of ms under delayed ACKs).
  char err[512];
  if (rd_kafka_conf_set(conf.get(), "socket.nagle.disable", "true", err, sizeof err) !=
      RD_KAFKA_CONF_OK) {
    LogWarn("kafka: socket.nagle.disable refused", {{"error", err}});
  }
  return conf;
}

Status SetConf(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("kafka setting ") + name + ": " + err);
  }
  return OkStatus();
}

Result<KafkaHandle> NewClient(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  // rd_kafka_new takes the configuration only when it succeeds.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) return MakeError(ErrorCode::kInternal, std::string("kafka client: ") + err);
  conf.release();
  return KafkaHandle(rk);
}

}  // namespace parley::events::detail
