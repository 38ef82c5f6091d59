#include "scenario.h"

#include "direct_load.h"

namespace parley::bench {

void AddBodyOptions(CLI::App& sub, DirectSettings& settings) {
  sub.add_option("--body-bytes", settings.body_bytes, "Message body size")
      ->check(CLI::Range(32, 64 * 1024))
      ->capture_default_str();
  sub.add_option("--encryption", settings.encryption,
                 "none: plaintext bodies (the server indexes them for search); e2ee-v1: "
                 "ciphertext-like bodies (base64 letters; stored and relayed, never indexed)")
      ->check(CLI::IsMember({"none", "e2ee-v1"}))
      ->capture_default_str();
  sub.add_option("--client-msg-ids", settings.client_msg_ids,
                 "sequential: each device's ids count up (like UUIDv7); random: scattered (like "
                 "UUIDv4), so the server's idempotency index takes each send into its own page")
      ->check(CLI::IsMember({"sequential", "random"}))
      ->capture_default_str();
}

std::unique_ptr<Scenario> MakeDirectScenario();
std::unique_ptr<Scenario> MakeGroupScenario();
std::unique_ptr<Scenario> MakePreloadScenario();
std::unique_ptr<Scenario> MakeHistoryScenario();
std::unique_ptr<Scenario> MakeSearchScenario();
std::unique_ptr<Scenario> MakeXmppDirectScenario();
std::unique_ptr<Scenario> MakeIdleScenario();
std::unique_ptr<Scenario> MakeReconnectScenario();

std::vector<std::unique_ptr<Scenario>> MakeAllScenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  all.push_back(MakeDirectScenario());
  all.push_back(MakeGroupScenario());
  all.push_back(MakePreloadScenario());
  all.push_back(MakeHistoryScenario());
  all.push_back(MakeSearchScenario());
  all.push_back(MakeXmppDirectScenario());
  all.push_back(MakeIdleScenario());
  all.push_back(MakeReconnectScenario());
  return all;
}

}  // namespace parley::bench
