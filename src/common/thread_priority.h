// Background threads (index maintenance, catch-up) yield the CPU to request handling by running
// at a lower priority: on Linux, nice applies per thread.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace parley {

// Sets the calling thread's nice value (0 = normal, 19 = lowest). Best effort: errors ignored.
inline void SetThisThreadNice(int nice) {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

}  // namespace parley
