// Options every scenario shares; each scenario adds its own on its subcommand.
#pragma once

#include <string>

namespace parley::bench {

struct CommonOptions {
  std::string url = "http://127.0.0.1:8080";
  int users = 100;               // accounts created, one WebSocket (device) each
  int threads = 2;               // event-loop threads of the generator
  double warmup_s = 2.0;         // load applied but not measured
  double duration_s = 10.0;      // the measured window
  double drain_s = 5.0;          // max wait after the window for measured messages to complete
  int setup_concurrency = 4;     // signups/logins in flight (argon2id makes each ~30 ms of CPU)
  int connect_timeout_ms = 10'000;
  std::string json_path;         // --json FILE
  int server_pid = 0;            // if set, the server's CPU time is reported too
  std::string password = "parley-bench-password";
};

}  // namespace parley::bench
