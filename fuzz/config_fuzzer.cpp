// SPDX-License-Identifier: Apache-2.0
//
// The configuration file: TOML text through the option table, as `serve --config` reads it.

#include "app/config_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ssehub::app::config_file file{"fuzz.toml",
                                        std::string(reinterpret_cast<const char*>(data), size)};
    const ssehub::app::command_line none;
    auto loaded = ssehub::app::load_config(none, {}, file);

    // A refusal is one line, as the contract says.
    if (!loaded && loaded.error().message.find('\n') != std::string::npos) {
        __builtin_trap();
    }
    return 0;
}
