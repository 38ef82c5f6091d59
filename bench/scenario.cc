#include "scenario.h"

namespace parley::bench {

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
