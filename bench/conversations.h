// Conversations the scenarios send into, opened through the public API.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "accounts.h"
#include "fleet.h"
#include "result.h"

namespace parley::bench {

// Where a device sends: {"conversation_id": id} or, if the server did not say, {"to_user_id": id}.
struct SendTarget {
  std::string key = "conversation_id";
  std::string value;
};

struct DirectPair {
  int a = 0;  // fleet / account indexes
  int b = 0;
  std::string conversation_id;  // empty if the ack did not carry one
};

// Pairs device 2i with 2i+1 and opens their direct conversation: device a sends one message
// with to_user_id = b over its WebSocket and reads conversation_id from the ack. Runs all
// pairs concurrently on the fleet's threads. Handlers of the connections are reset afterwards.
Result<std::vector<DirectPair>> OpenDirectConversations(Fleet& fleet,
                                                        const std::vector<Account>& accounts,
                                                        std::chrono::milliseconds timeout);

// Every other device opens a direct conversation with `hub` (a = that device, b = hub): the hub
// is then a member of every conversation, the reader the `preload` scenario fills for.
Result<std::vector<DirectPair>> OpenHubConversations(Fleet& fleet,
                                                     const std::vector<Account>& accounts,
                                                     int hub, std::chrono::milliseconds timeout);

}  // namespace parley::bench
