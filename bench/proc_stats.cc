#include "proc_stats.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

namespace parley::bench {

int64_t ResidentBytes(int pid) {
  std::ifstream in(pid > 0 ? "/proc/" + std::to_string(pid) + "/status"
                           : std::string("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kib = -1;
      fields >> kib;
      return kib < 0 ? -1 : kib * 1024;
    }
  }
  return -1;
}

uint64_t RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur;
}

Result<std::vector<boost::asio::ip::address>> ParseSourceAddresses(const std::string& text) {
  namespace ip = boost::asio::ip;
  std::vector<ip::address> out;
  auto bad = [&](const std::string& why) {
    return Error{ExitCode::kUsage, "--source-addresses '" + text + "': " + why};
  };
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    const auto dash = item.find('-');
    boost::system::error_code ec;
    if (dash == std::string::npos) {
      auto a = ip::make_address(item, ec);
      if (ec) return bad("not an address: " + item);
      out.push_back(a);
      continue;
    }
    auto first = ip::make_address_v4(item.substr(0, dash), ec);
    if (ec) return bad("not an IPv4 address: " + item.substr(0, dash));
    auto last = ip::make_address_v4(item.substr(dash + 1), ec);
    if (ec) return bad("not an IPv4 address: " + item.substr(dash + 1));
    if (last.to_uint() < first.to_uint() || last.to_uint() - first.to_uint() > 255) {
      return bad("a range goes upwards, at most 256 addresses");
    }
    for (uint32_t v = first.to_uint(); v <= last.to_uint(); ++v) out.emplace_back(ip::address_v4(v));
  }
  for (const auto& a : out) {
    if (!a.is_loopback()) return bad(a.to_string() + " is not a loopback address");
  }
  return out;
}

}  // namespace parley::bench
