#include "scenario.h"

namespace parley::bench {

std::unique_ptr<Scenario> MakeDirectScenario();
std::unique_ptr<Scenario> MakeGroupScenario();
std::unique_ptr<Scenario> MakePreloadScenario();
std::unique_ptr<Scenario> MakeHistoryScenario();
std::unique_ptr<Scenario> MakeSearchScenario();

std::vector<std::unique_ptr<Scenario>> MakeAllScenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  all.push_back(MakeDirectScenario());
  all.push_back(MakeGroupScenario());
  all.push_back(MakePreloadScenario());
  all.push_back(MakeHistoryScenario());
  all.push_back(MakeSearchScenario());
  return all;
}

}  // namespace parley::bench
