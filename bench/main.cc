// parley-bench: the load generator of Parley. A pure client of the public API (docs/api.md); it
// never links the server. See bench/README.md and docs/benchmarks.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "accounts.h"
#include "cpu_usage.h"
#include "endpoint.h"
#include "options.h"
#include "report.h"
#include "scenario.h"

namespace pb = parley::bench;

namespace {

constexpr const char* kFooter = R"(
Examples (start the server first: build/parleyd --listen 127.0.0.1:8080 --data-dir /tmp/bench-data):
  parley-bench direct                         saturation: 100 devices, 16 sends in flight each
  parley-bench direct --rate 20000            open loop at 20,000 msgs/s, latency from schedule
  parley-bench --users 200 --duration-s 20 direct --rate 0 --window 8 --json out.json

Every run creates fresh accounts (usernames pb<tag>_NNNNN), so it can be repeated against the
same server. Only loopback addresses are accepted. Exit codes: 0 ok, 1 usage, 2 server
unreachable, 3 setup failed (signup, login, WebSocket, pairing), 4 run incomplete (sends refused,
messages missing or connections lost; figures are still printed).
)";

int Fail(const pb::Error& e) {
  std::cerr << "parley-bench: error: " << e.message << "\n";
  return static_cast<int>(e.code);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parley-bench: load generator for parleyd (Parley's server), speaking only its "
               "public HTTP/WebSocket API.",
               "parley-bench"};
  app.footer(kFooter);
  app.require_subcommand(1);

  pb::CommonOptions o;
  app.add_option("--url", o.url, "Server address; must be loopback")->capture_default_str();
  app.add_option("--users", o.users, "Accounts to create; each opens one WebSocket (device)")
      ->check(CLI::Range(2, 10'000))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Event-loop threads of the generator")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--warmup-s", o.warmup_s, "Seconds of load before measuring")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--duration-s", o.duration_s, "Seconds measured")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--drain-s", o.drain_s,
                 "Max seconds to wait after the window for measured messages to be acked and "
                 "delivered")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--setup-concurrency", o.setup_concurrency,
                 "Signups/logins in flight during setup (each costs the server an argon2id hash)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--connect-timeout-ms", o.connect_timeout_ms,
                 "Per-WebSocket limit for connect + upgrade + ready frame, and for pairing")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Also write the results as JSON to FILE");
  app.add_option("--server-pid", o.server_pid,
                 "PID of parleyd, to report its CPU use during the window (from /proc)")
      ->check(CLI::PositiveNumber);
  app.add_option("--password", o.password, "Password of the accounts created")
      ->capture_default_str();

  auto scenarios = pb::MakeAllScenarios();
  std::vector<std::pair<CLI::App*, pb::Scenario*>> subs;
  for (auto& s : scenarios) {
    CLI::App* sub = app.add_subcommand(std::string(s->name()), std::string(s->description()));
    sub->fallthrough();  // common options may also follow the scenario name
    s->AddOptions(*sub);
    subs.emplace_back(sub, s.get());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  pb::Scenario* chosen = nullptr;
  for (auto& [sub, s] : subs) {
    if (sub->parsed()) chosen = s;
  }
  if (pb::Status st = chosen->Validate(o); !st.ok()) return Fail(st.error());
  auto ep = pb::ResolveLoopback(o.url);
  if (!ep.ok()) return Fail(ep.error());
  if (chosen->speaks_parley_api()) {
    if (pb::Status st = pb::CheckServer(*ep); !st.ok()) return Fail(st.error());
  }

  const std::string load_before = pb::LoadAverage();
  auto report = chosen->Run(pb::RunContext{o, *ep});
  if (!report.ok()) return Fail(report.error());
  report->environment.emplace_back("load average (1 min) before / after",
                                   load_before + " / " + pb::LoadAverage());
  pb::PrintReport(*report, std::cout);
  if (!o.json_path.empty()) {
    if (pb::Status st = pb::WriteJsonReport(*report, o.json_path); !st.ok()) return Fail(st.error());
  }
  return static_cast<int>(report->incomplete ? pb::ExitCode::kRunIncomplete : pb::ExitCode::kOk);
}
