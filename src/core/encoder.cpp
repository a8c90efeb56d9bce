// SPDX-License-Identifier: Apache-2.0
#include "core/encoder.hpp"

namespace ssehub::core {

std::string encode_event(std::string_view name, std::string_view id, std::string_view data) {
    constexpr std::string_view event_field = "event:";
    constexpr std::string_view id_field = "\nid:";
    constexpr std::string_view data_field = "\ndata:";
    constexpr std::string_view end = "\n\n";

    std::string out;
    out.reserve(event_field.size() + name.size() + id_field.size() + id.size() + data_field.size() +
                data.size() + end.size());
    out += event_field;
    out += name;
    out += id_field;
    out += id;
    out += data_field;
    out += data;
    out += end;
    return out;
}

std::string encode_cursor(std::string_view id) {
    std::string out = "id:";
    out += id;
    out += "\n\n";
    return out;
}

std::string encode_retry(long long milliseconds) {
    return "retry:" + std::to_string(milliseconds) + "\n\n";
}

} // namespace ssehub::core
