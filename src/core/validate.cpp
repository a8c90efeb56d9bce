// SPDX-License-Identifier: Apache-2.0
#include "core/validate.hpp"

#include <cstdint>

namespace ssehub::core {

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when it is malformed.
// Writes the code point to `cp`.
std::size_t decode_one(std::string_view s, std::size_t i, std::uint32_t& cp) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }

    std::size_t len = 0;
    std::uint32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        cp = b0 & 0x1Fu;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        cp = b0 & 0x0Fu;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        cp = b0 & 0x07u;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }

    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (b & 0x3Fu);
    }

    // Overlong forms, UTF-16 surrogates and values past Unicode are all malformed.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

bool is_control(std::uint32_t cp) noexcept {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

bool is_space(std::uint32_t cp) noexcept {
    return cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
           cp == 0xFEFF;
}

// Walks `s` as UTF-8 and reports the first problem, or an empty string when none.
template <class Reject> std::string first_problem(std::string_view s, Reject reject) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        const std::size_t len = decode_one(s, i, cp);
        if (len == 0) {
            return "is not valid UTF-8";
        }
        if (is_control(cp)) {
            return "contains a control character (CR, LF, NUL or another)";
        }
        if (const char* why = reject(cp, i, len)) {
            return why;
        }
        i += len;
    }
    return {};
}

} // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        const std::size_t len = decode_one(s, i, cp);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

result<void> check_id(std::string_view id, std::size_t max_length, std::string path,
                      bool allow_empty) {
    if (id.empty() && !allow_empty) {
        return make_error(errc::bad_request, "must not be empty", std::move(path));
    }
    if (id.size() > max_length) {
        return make_error(errc::bad_request,
                          "is longer than " + std::to_string(max_length) + " bytes",
                          std::move(path));
    }

    auto problem = first_problem(id, [](std::uint32_t cp, std::size_t, std::size_t) {
        return is_space(cp) ? "contains whitespace" : nullptr;
    });
    if (!problem.empty()) {
        return make_error(errc::bad_request, "id " + problem, std::move(path));
    }
    return {};
}

result<void> check_event_name(std::string_view name, std::size_t max_length, std::string path) {
    if (name.empty()) {
        return make_error(errc::bad_request, "event name must not be empty", std::move(path));
    }
    if (name.size() > max_length) {
        return make_error(errc::bad_request,
                          "event name is longer than " + std::to_string(max_length) + " bytes",
                          std::move(path));
    }

    const std::size_t size = name.size();
    auto problem = first_problem(name, [size](std::uint32_t cp, std::size_t at, std::size_t len) {
        const bool edge = at == 0 || at + len == size;
        return edge && is_space(cp) ? "starts or ends with whitespace" : nullptr;
    });
    if (!problem.empty()) {
        return make_error(errc::bad_request, "event name " + problem, std::move(path));
    }
    return {};
}

} // namespace ssehub::core
