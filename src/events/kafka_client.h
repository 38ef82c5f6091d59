// Shared plumbing of the Kafka adapter (kafka_bus.cc, kafka_consumer.cc): owning handles,
// configuration with checked returns, and librdkafka's logs and errors routed to our log.
// detail: not part of any contract.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace parley::events::detail {

struct KafkaDestroy {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDestroy>;

struct KafkaConfDestroy {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDestroy>;

struct PartitionListDestroy {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDestroy>;

// A configuration with our log and error callbacks installed.
KafkaConf NewConf();
// Sets one property; kInvalidArgument naming it (and librdkafka's reason) if refused.
Status SetConf(rd_kafka_conf_t* conf, const char* name, const std::string& value);
// Creates a client from `conf` (consumed on success and on failure).
Result<KafkaHandle> NewClient(rd_kafka_type_t type, KafkaConf conf);

}  // namespace parley::events::detail
