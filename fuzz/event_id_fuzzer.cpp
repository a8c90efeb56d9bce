// SPDX-License-Identifier: Apache-2.0
//
// The event-id parser reads what clients send back as Last-Event-ID: any bytes at all.

#include "core/event_id.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ssehub::core::event_id_codec codec("k3f9x2");
    const std::string_view id(reinterpret_cast<const char*>(data), size);

    const auto parsed = codec.parse(id);

    // What parses as ours must come back to the same position once written again.
    if (parsed.state == ssehub::core::event_id_codec::status::ok) {
        const auto again = codec.parse(codec.format(parsed.seq));
        if (again.state != parsed.state || again.seq != parsed.seq) {
            std::abort();
        }
    }
    return 0;
}
