// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ssehub::actions {

// Paths name a value inside a request the way a reader would write it in JavaScript:
// `[1].properties.id`, `disconnected[2].type`. The root has the empty path.

/// `parent.key`, or `key` at the root.
inline std::string path_key(std::string_view parent, std::string_view key) {
    std::string out;
    out.reserve(parent.size() + key.size() + 1);
    out += parent;
    if (!parent.empty()) {
        out += '.';
    }
    out += key;
    return out;
}

/// `parent[index]`; at the root, `[index]`.
inline std::string path_index(std::string_view parent, std::size_t index) {
    std::string out(parent);
    out += '[';
    out += std::to_string(index);
    out += ']';
    return out;
}

} // namespace ssehub::actions
