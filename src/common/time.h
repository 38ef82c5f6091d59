// Wall-clock time as the API speaks it: integer milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace parley {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace parley
