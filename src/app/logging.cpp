// SPDX-License-Identifier: Apache-2.0
#include "app/logging.hpp"

#include <algorithm>
#include <memory>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <string>

namespace ssehub::app {

namespace {

constexpr const char* time_pattern = "%Y-%m-%dT%H:%M:%S.%e%z";

// `%*` in a pattern: the message, escaped to sit inside a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        constexpr std::string_view hex = "0123456789abcdef";
        for (const char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto byte = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                dest.push_back('\\');
                dest.push_back(c);
            } else if (c == '\n') {
                dest.append(std::string_view("\\n"));
            } else if (byte < 0x20) {
                dest.append(std::string_view("\\u00"));
                dest.push_back(hex[byte >> 4]);
                dest.push_back(hex[byte & 0xf]);
            } else {
                dest.push_back(c);
            }
        }
    }

    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_message_flag>();
    }
};

struct named_level {
    std::string_view name;
    spdlog::level::level_enum level;
};

constexpr std::array levels{
    named_level{"trace", spdlog::level::trace}, named_level{"debug", spdlog::level::debug},
    named_level{"info", spdlog::level::info}, named_level{"warn", spdlog::level::warn},
    named_level{"error", spdlog::level::err}};

// One sink for every logger, so that lines of different layers never interleave.
spdlog::sink_ptr make_sink(std::string_view format) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    spdlog::sink_ptr sink;
    if (format == "json") {
        formatter->add_flag<json_message_flag>('*').set_pattern(
            std::string("{\"time\":\"") + time_pattern +
            "\",\"level\":\"%l\",\"logger\":\"%n\",\"message\":\"%*\"}");
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
        formatter->set_pattern(std::string("[") + time_pattern + "] [%^%l%$] [%n] %v");
        sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    }
    sink->set_formatter(std::move(formatter));
    return sink;
}

std::shared_ptr<spdlog::logger> find_or_register(const char* name, const spdlog::sink_ptr& sink) {
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    auto created = std::make_shared<spdlog::logger>(name, sink);
    try {
        spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
        // core::logger() registered it between our look-up and now; use that one.
        return spdlog::get(name);
    }
    return created;
}

} // namespace

result<void> init_logging(std::string_view level, std::string_view format) {
    const auto* threshold = std::ranges::find(levels, level, &named_level::name);
    if (threshold == levels.end()) {
        return make_error(errc::bad_request,
                          "log.level must be trace, debug, info, warn or error, not '" +
                              std::string(level) + "'",
                          "log.level");
    }
    if (format != "text" && format != "json") {
        return make_error(errc::bad_request,
                          "log.format must be text or json, not '" + std::string(format) + "'",
                          "log.format");
    }

    const auto sink = make_sink(format);
    for (const char* name : logger_names) {
        auto logger = find_or_register(name, sink);
        logger->sinks().assign({sink});
        logger->set_level(threshold->level);
    }
    spdlog::set_default_logger(spdlog::get("app"));
    return {};
}

} // namespace ssehub::app
