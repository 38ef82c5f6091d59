// The open-loop schedule of the request scenarios: request j of the run is due at
// start + j / rate; connection c of C takes j = c, c + C, c + 2C, ...
#pragma once

#include <cstdint>

namespace parley::bench {

// When request k of connection `conn` (of `connections`) is due, in ns.
inline int64_t DueNs(int64_t start_ns, double rate, int connections, int conn, uint64_t k) {
  const double j = static_cast<double>(k) * connections + conn;
  return start_ns + static_cast<int64_t>(j / rate * 1e9);
}

}  // namespace parley::bench
