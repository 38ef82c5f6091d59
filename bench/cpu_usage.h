// CPU time of this process and, optionally, of the server: on a 2-core box shared by both, the
// generator's own cost is part of every figure and the report says what it was.
#pragma once

#include <cstdint>
#include <string>

namespace parley::bench {

struct CpuSample {
  int64_t wall_ns = 0;
  int64_t self_cpu_ns = 0;    // user + system of parley-bench
  int64_t server_cpu_ns = -1; // user + system of --server-pid, -1 when unknown
};

CpuSample SampleCpu(int server_pid);

// The machine's 1-minute load average, "n/a" if unreadable: on a shared box, the context of a run.
std::string LoadAverage();

// CPU cores used between two samples (1.0 = one core busy all the time); -1 when unknown.
double CoresUsed(int64_t cpu_before, int64_t cpu_after, int64_t wall_before, int64_t wall_after);

}  // namespace parley::bench
