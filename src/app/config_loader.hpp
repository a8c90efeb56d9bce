// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <ssehub/error.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace ssehub::app {

/// How a setting is written. Durations are a whole number with a unit (`500ms`, `10s`, `5m`,
/// `1h`); sizes a number of bytes or a whole number of `KiB`, `MiB` or `GiB`.
enum class option_type { string, boolean, uint, duration, size, string_list, address };

/// The field a row of the option table fills, reached through a captureless accessor. The
/// alternative matches the row's type: `std::size_t&` serves both `uint` and `size`, and an
/// `address` (`HOST:PORT`) fills the host and port of the server options.
using option_target =
    std::variant<std::string& (*)(config&), bool& (*)(config&), std::size_t& (*)(config&),
                 std::chrono::milliseconds& (*)(config&), std::vector<std::string>& (*)(config&),
                 http::server_options& (*)(config&)>;

/// One row of the option table. `key` is the dotted name shared by the three sources:
/// `[session] grace = "10s"` in the file, `SSEHUB_SESSION_GRACE` in the environment and
/// `--session-grace` on the command line. `fallback` is the default, written as a user would
/// write it. `min` and `max` bound uint (count), size (bytes) and duration (milliseconds)
/// values. `check`, when set, vets each string (each element of a list) and returns why it
/// is refused, or an empty string.
struct option {
    std::string_view key;
    option_type type;
    std::string_view fallback;
    std::string_view help;
    option_target target;
    std::uint64_t min = 0;
    std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    std::string_view alias = {}; ///< a short name: `--listen`, `SSEHUB_LISTEN`
    std::string (*check)(std::string_view value) = nullptr;
};

/// The option table, in the order `serve --help` shows it.
std::span<const option> config_options() noexcept;

/// `SSEHUB_SESSION_GRACE` for `session.grace`.
std::string env_name(std::string_view key);

/// `--session-grace` for `session.grace`.
std::string flag_name(std::string_view key);

/// One `NAME=value` of an environment.
struct env_var {
    std::string name;
    std::string value;
};

/// The variables of this process's environment, in the order `environ` holds them.
std::vector<env_var> process_environment();

/// A setting given on the command line, as typed.
struct cli_setting {
    std::string key;                 ///< dotted key of the table
    std::string flag;                ///< the flag as shown in messages: `--session-grace`
    std::vector<std::string> values; ///< one value; a string list may have several
};

/// What `serve`'s command line says about the configuration, filled by add_config_options().
struct command_line {
    std::optional<std::string> config_file; ///< `--config FILE`
    std::vector<cli_setting> settings;      ///< in the order CLI11 reported them
};

/// Declares `--config` and one flag per row of the table (plus `--listen`) on `cmd`; each
/// flag given is recorded in `out`, unparsed. `out` must outlive the parse of `cmd`.
void add_config_options(CLI::App& cmd, command_line& out);

/// A configuration file's TOML text and the name messages give it.
struct config_file {
    std::string name;
    std::string text;
};

/// Reads the file named by `--config`, or else by `SSEHUB_CONFIG`; no file when neither is
/// set. Fails with one line when the file cannot be read.
result<std::optional<config_file>> read_config_file(const command_line& cli,
                                                    std::span<const env_var> env);

/// Builds the configuration from the table's defaults, then `file`, then the `SSEHUB_*`
/// variables of `env`, then `cli`; a later source wins, a list replaces a list. Reads no
/// real file or variable, so tests can pass their own.
///
/// The first problem ends the load: an unknown key, a value of the wrong form or out of its
/// bounds, or a configuration that must not be served (a listener beyond loopback without
/// publisher credentials). The error's `message` is one line naming the key, the value and
/// where it came from, ready for stderr; `path` is the dotted key.
result<config> load_config(const command_line& cli, std::span<const env_var> env,
                           const std::optional<config_file>& file);

/// The value parsers behind the table; their errors say what is wrong with the text alone.
result<std::uint64_t> parse_uint(std::string_view text);
result<bool> parse_bool(std::string_view text);
result<std::chrono::milliseconds> parse_duration(std::string_view text);
result<std::uint64_t> parse_size(std::string_view text);

/// A listener address. `host` is an IP address in canonical form (`localhost` becomes
/// `127.0.0.1`); `[::1]:8080` gives host `::1`.
struct listen_address {
    std::string host;
    std::uint16_t port = 0;
};

result<listen_address> parse_listen(std::string_view text);

/// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; `host` as parse_listen() leaves it.
bool is_loopback(std::string_view host);

} // namespace ssehub::app
