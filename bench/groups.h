// Groups the `group` scenario sends into, created through the public API (POST /v1/create-group,
// then POST /v1/add-member for members beyond what one call may carry).
#pragma once

#include <string>
#include <vector>

#include "accounts.h"
#include "result.h"

namespace parley::bench {

struct BenchGroup {
  std::string group_id;
  std::string conversation_id;
  std::vector<int> members;  // account indexes; members[0] is the owner (creator)
};

// Group g has the accounts [g * size, (g + 1) * size); its first account creates it with up to
// `per_call` other members and adds the rest one by one. `concurrency` groups are set up at once.
Result<std::vector<BenchGroup>> CreateGroups(const Endpoint& ep,
                                             const std::vector<Account>& accounts, int groups,
                                             int size, int per_call, int concurrency);

}  // namespace parley::bench
