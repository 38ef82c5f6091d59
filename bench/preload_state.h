// What `preload` leaves behind for `history` and `search`: who can read the preloaded
// messages (the hub user, a member of every preloaded conversation), where they are, and the
// vocabulary their bodies were drawn from. A small JSON file (--state), kept beside the data dir.
#pragma once

#include <string>
#include <vector>

#include "endpoint.h"
#include "result.h"

namespace parley::bench {

struct PreloadState {
  std::string hub_username;
  std::string hub_user_id;
  std::string password;
  std::vector<std::string> conversation_ids;  // the hub's direct conversations, one per spoke
  uint64_t messages = 0;                      // word-bodied messages acked
  int vocabulary = 0;
  int words_per_message = 0;
  std::string marker;  // the one word of the last message sent: searchable = fully indexed
};

Status SavePreloadState(const PreloadState& s, const std::string& path);
Result<PreloadState> LoadPreloadState(const std::string& path);

// Logs the hub in (POST /v1/login; a new device each time) and returns its access token.
Result<std::string> LoginHub(const Endpoint& ep, const PreloadState& s);

// One GET with a bearer token on a throwaway connection (setup and polling, not measured).
Result<std::pair<int, std::string>> GetOnce(const Endpoint& ep, const std::string& target,
                                            const std::string& token);

}  // namespace parley::bench
