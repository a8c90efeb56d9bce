// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <sys/types.h>
#include <vector>

namespace ssehub::bench {

/// Memory and CPU time of a set of processes, read from /proc at one moment. Processes
/// that are gone count as zero.
struct process_sample {
    std::uint64_t rss_kb = 0; ///< VmRSS summed over the processes
    std::uint64_t pss_kb = 0; ///< Pss (shared pages split between sharers), summed
    double cpu_s = 0;         ///< user + system time, summed
};

process_sample sample_processes(const std::vector<pid_t>& pids);

} // namespace ssehub::bench
