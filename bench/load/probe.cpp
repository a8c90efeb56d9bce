// SPDX-License-Identifier: Apache-2.0
#include "probe.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace ssehub::bench {

namespace {

// The number after `key` on the line that starts with it, in a /proc status-like file.
std::uint64_t field_kb(const std::string& path, std::string_view key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(key)) {
            continue;
        }
        std::string_view rest(line);
        rest.remove_prefix(key.size());
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
            rest.remove_prefix(1);
        }
        std::uint64_t kb = 0;
        std::from_chars(rest.data(), rest.data() + rest.size(), kb);
        return kb;
    }
    return 0;
}

// utime + stime of /proc/PID/stat, in clock ticks. The command name (field 2) may hold
// spaces, so counting starts after its closing parenthesis.
std::uint64_t cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) {
        return 0;
    }
    std::istringstream fields(text.substr(paren + 2));
    std::string skip;
    // Fields 3..13 come before utime (14) and stime (15).
    for (int i = 3; i <= 13; ++i) {
        fields >> skip;
    }
    std::uint64_t user = 0;
    std::uint64_t system = 0;
    fields >> user >> system;
    return user + system;
}

} // namespace

process_sample sample_processes(const std::vector<pid_t>& pids) {
    process_sample out;
    const auto ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::uint64_t ticks = 0;
    for (const pid_t pid : pids) {
        const std::string dir = "/proc/" + std::to_string(pid);
        out.rss_kb += field_kb(dir + "/status", "VmRSS:");
        out.pss_kb += field_kb(dir + "/smaps_rollup", "Pss:");
        ticks += cpu_ticks(pid);
    }
    out.cpu_s = static_cast<double>(ticks) / ticks_per_s;
    return out;
}

} // namespace ssehub::bench
