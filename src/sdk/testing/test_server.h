// TestServer: runs a real `parleyd` for SDK tests. Header-only, test code only.
//
// The binary is $PARLEYD_BIN, else the PARLEYD_PATH macro (CMake defines it for
// parley_sdk_tests). It listens on 127.0.0.1 on a free port, with a fresh temporary --data-dir
// and rate limits off (the environment tests/integration/conftest.py uses); Start() waits until
// GET /healthz answers. Kill() (SIGKILL, a crash) and Start() again reuse the port and data dir,
// so tests can restart the server under a connected client. The destructor kills it and
// removes the data dir.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sdk/net/http_client.h"

extern "C" char** environ;

namespace parley::sdk::testing {

class TestServer {
 public:
  // `extra_args` are appended to the command line (e.g. {"--access-token-ttl", "2"}).
  explicit TestServer(std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {
    char tmpl[] = "/tmp/parley-sdk-test-XXXXXX";
    char* dir = ::mkdtemp(tmpl);
    root_ = dir ? dir : "/tmp/parley-sdk-test";
    data_dir_ = root_ + "/data";
    std::filesystem::create_directories(data_dir_);
  }
  ~TestServer() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  static std::string Binary() {
    if (const char* env = std::getenv("PARLEYD_BIN"); env && *env) return env;
#ifdef PARLEYD_PATH
    return PARLEYD_PATH;
#else
    return "parleyd";
#endif
  }

  // Starts (or restarts, on the same port and data dir) the server; false if it did not come up
  // within 20 s (its output is in log_path()).
  bool Start() {
    if (port_ == 0) port_ = FreePort();
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {Binary(), "--listen", listen, "--data-dir", data_dir_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    // Everything the child needs is prepared before fork (the test process has threads).
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::string_view(*e).rfind("PARLEY_", 0) != 0) env.emplace_back(*e);  // hermetic
    for (const char* name :
         {"SIGNUP", "LOGIN", "SEND", "UPLOAD", "CLAIM", "TYPING", "TO_DEVICE", "TO_DEVICE_BYTES"})
      env.push_back(std::string("PARLEY_RATE_") + name + "_PER_MIN=0");
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (Healthy()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Kill();
    return false;
  }

  // SIGKILL and reap: the server dies as in a crash.
  void Kill() { Signal(SIGKILL); }
  // SIGTERM and reap: a clean shutdown.
  void Terminate() { Signal(SIGTERM); }
  // Freezes / resumes the process (SIGSTOP / SIGCONT). Pause returns once the process is stopped
  // (a loaded machine may take a moment to stop every thread): nothing sent to it afterwards is
  // processed before Resume.
  void Pause() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGSTOP);
    int status = 0;
    while (::waitpid(pid_, &status, WUNTRACED) == -1 && errno == EINTR) {
    }
  }
  void Resume() { if (pid_ > 0) ::kill(pid_, SIGCONT); }

  bool Healthy() const {
    auto base = net::ParseBaseUrl(url());
    if (!base.ok()) return false;
    net::HttpOptions o;
    o.connect_timeout = std::chrono::milliseconds(500);
    o.io_timeout = std::chrono::milliseconds(1000);
    net::HttpClient c(*base, o);
    net::HttpRequestSpec req;
    req.target = "/healthz";
    auto r = c.Do(req);
    return r.ok() && r->status == 200;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& root() const { return root_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log_path() const { return root_ + "/parleyd.log"; }

 private:
  void Signal(int sig) {
    if (pid_ <= 0) return;
    if (sig == SIGSTOP) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }

  std::vector<std::string> extra_args_;
  std::string root_, data_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace parley::sdk::testing
