#include "scenario.h"

namespace parley::bench {

std::unique_ptr<Scenario> MakeDirectScenario();

std::vector<std::unique_ptr<Scenario>> MakeAllScenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  all.push_back(MakeDirectScenario());
  return all;
}

}  // namespace parley::bench
