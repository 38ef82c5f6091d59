#include "cpu_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "clock.h"

namespace parley::bench {

namespace {
int64_t TimevalNs(const timeval& tv) { return tv.tv_sec * kNsPerSec + tv.tv_usec * 1000; }

// utime + stime from /proc/PID/stat (fields 14 and 15, after the parenthesised command name).
int64_t ProcessCpuNs(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  const int64_t ticks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * (kNsPerSec / ticks);
}
}  // namespace

CpuSample SampleCpu(int server_pid) {
  CpuSample s;
  s.wall_ns = NowNs();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.self_cpu_ns = TimevalNs(ru.ru_utime) + TimevalNs(ru.ru_stime);
  if (server_pid > 0) s.server_cpu_ns = ProcessCpuNs(server_pid);
  return s;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  return in >> one ? one : std::string("n/a");
}

double CoresUsed(int64_t cpu_before, int64_t cpu_after, int64_t wall_before, int64_t wall_after) {
  if (cpu_before < 0 || cpu_after < 0 || wall_after <= wall_before) return -1;
  return static_cast<double>(cpu_after - cpu_before) / static_cast<double>(wall_after - wall_before);
}

}  // namespace parley::bench
