// Test support for the Cassandra message store's scale-out tests (header only; tests include it).
//
// - TestKeyspace: a keyspace name of its own per test (parleytest_<random>), dropped when the
//   holder lets go. CassandraUrl() records a fatal failure if PARLEY_TEST_CASSANDRA_URL is unset:
//   these tests never skip (as the PostgreSQL ones).
// - CutProxy: a loopback TCP forwarder to Cassandra that can be cut (every connection through it
//   closed, new ones refused) and restored, to make Cassandra unreachable for one client.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "storage/cassandra/cql_client.h"

namespace parley::storage::cassandra::testing {

inline CqlUrl CassandraUrl() {
  const char* v = std::getenv("PARLEY_TEST_CASSANDRA_URL");
  if (!v || !*v) {
    [] { FAIL() << "PARLEY_TEST_CASSANDRA_URL is unset: these tests need a live Cassandra, e.g. "
                   "deploy/dev.sh up; eval \"$(deploy/dev.sh env)\""; }();
    return {};
  }
  auto u = ParseCqlUrl(v);
  if (!u.ok()) {
    [&] { FAIL() << "PARLEY_TEST_CASSANDRA_URL: " << u.error().message; }();
    return {};
  }
  return *u;
}

inline std::string NewKeyspaceName() {
  std::string id = NewUuidV4();
  std::erase(id, '-');
  return "parleytest_" + id.substr(0, 12);
}

class CutProxy {
 public:
  CutProxy(std::string host, int port) : host_(std::move(host)), port_(port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    local_port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CutProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    Cut();
    for (auto& t : pumps_) t.join();
    std::lock_guard l(mu_);
    for (int fd : fds_) ::close(fd);
  }
  int port() const { return local_port_; }
  // Closes every connection through the proxy; new ones are closed as soon as accepted.
  void Cut() {
    open_ = false;
    std::lock_guard l(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  void Restore() { open_ = true; }

 private:
  void Accept() {
    while (!stopping_) {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      if (!open_) {
        ::close(c);
        continue;
      }
      int u = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port_));
      ::inet_pton(AF_INET, host_ == "localhost" ? "127.0.0.1" : host_.c_str(), &a.sin_addr);
      if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(c);
        ::close(u);
        continue;
      }
      std::lock_guard l(mu_);
      fds_.push_back(c);
      fds_.push_back(u);
      pumps_.emplace_back([c, u] { Pump(c, u); });
      pumps_.emplace_back([c, u] { Pump(u, c); });
    }
  }
  static void Pump(int from, int to) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(to, buf + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
          n = -1;
          break;
        }
        off += w;
      }
      if (n < 0) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  std::string host_;
  int port_;
  int listen_fd_ = -1;
  int local_port_ = 0;
  std::atomic<bool> open_{true}, stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;             // guarded by mu_
  std::vector<std::thread> pumps_;   // guarded by mu_
};

}  // namespace parley::storage::cassandra::testing
