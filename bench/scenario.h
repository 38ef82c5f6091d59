// A scenario is one kind of load (direct messages, group fan-out, idle connections, history...).
// Each lives in its own scenario_*.cc, adds its flags to its own subcommand, does its own setup
// through the shared layers (accounts, fleet, conversations) and returns a Report.
//
// To add one: write scenario_NAME.cc with a Make...Scenario() factory, list it in scenario.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "endpoint.h"
#include "options.h"
#include "report.h"
#include "result.h"

namespace parley::bench {

struct RunContext {
  const CommonOptions& options;
  const Endpoint& endpoint;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // Adds the scenario's own flags; values are stored in the scenario object.
  virtual void AddOptions(CLI::App& subcommand) = 0;
  // Checks the flags together with the common options before anything touches the server.
  virtual Status Validate(const CommonOptions& options) const { return Ok(); }
  // False for scenarios aimed at another server (xmpp-direct): main() then skips the check that
  // --url is a Parley server.
  virtual bool speaks_parley_api() const { return true; }
  virtual Result<Report> Run(const RunContext& ctx) = 0;
};

struct DirectSettings;
// --body-bytes and --encryption, for the scenarios that send messages (direct, group).
void AddBodyOptions(CLI::App& subcommand, DirectSettings& settings);

// Every scenario, in the order `--help` lists them.
std::vector<std::unique_ptr<Scenario>> MakeAllScenarios();

}  // namespace parley::bench
