// Process facts from /proc and rlimits, for the scenarios that count memory and descriptors
// (idle, reconnect): resident memory of a process, the open-file limit.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "result.h"

namespace parley::bench {

// VmRSS of /proc/PID/status (PID 0 = this process) in bytes; -1 when unreadable.
int64_t ResidentBytes(int pid);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
uint64_t RaiseFdLimit();

// "127.0.0.1-127.0.0.8" (a range in the last octet), "127.0.0.1,127.0.0.2" or one address;
// every address must be loopback. Empty text = no addresses (the kernel chooses).
Result<std::vector<boost::asio::ip::address>> ParseSourceAddresses(const std::string& text);

}  // namespace parley::bench
