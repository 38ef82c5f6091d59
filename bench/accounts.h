// Test accounts: created through the public API (POST /v1/signup, then POST /v1/login, which
// registers one device each). Usernames carry a random run tag so runs never collide.
#pragma once

#include <string>
#include <vector>

#include "endpoint.h"
#include "result.h"

namespace parley::bench {

struct Account {
  std::string username;
  std::string user_id;
  std::string device_id;
  std::string access_token;
};

// Fails with kServerUnreachable when nothing answers at ep; a missing /healthz only warns.
Status CheckServer(const Endpoint& ep);

// Signs up and logs in `count` users, `concurrency` at a time, retrying 429 after Retry-After.
// Prints progress to stderr. The first failure stops the whole setup and is returned.
Result<std::vector<Account>> CreateAccounts(const Endpoint& ep, int count, int concurrency,
                                            const std::string& password);

// The accounts as a text file, one per line: username, user_id, device_id, access_token
// (tab-separated), so that a later run (after a server restart) can reuse them without logging
// in again. Access tokens expire (≤ 15 min, docs/api.md).
Status SaveAccounts(const std::vector<Account>& accounts, const std::string& path);
Result<std::vector<Account>> LoadAccounts(const std::string& path);

}  // namespace parley::bench
