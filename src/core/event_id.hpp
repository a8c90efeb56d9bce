// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ssehub::core {

/// The SSE `id:` of an event: `<epoch>-<seq>`, where the epoch names this run of the
/// process (6 characters of base 36) and seq is the event's position in the hub-wide
/// sequence, in decimal. Short, ASCII, never CR, LF or NUL.
class event_id_codec {
public:
    /// `epoch` must be 1..16 characters of [0-9a-z].
    explicit event_id_codec(std::string epoch);

    /// A fresh epoch from the system's random source.
    static std::string random_epoch();

    std::string format(std::uint64_t seq) const;

    enum class status {
        ok,          ///< ours; `seq` is the position
        malformed,   ///< not an id this hub could have written
        other_epoch, ///< well formed, from another run of the process
    };

    struct parsed {
        status state = status::malformed;
        std::uint64_t seq = 0;
    };

    /// Never throws and never reads past `id`; any byte string is safe to pass.
    parsed parse(std::string_view id) const noexcept;

    const std::string& epoch() const noexcept { return epoch_; }

private:
    std::string epoch_;
};

} // namespace ssehub::core
