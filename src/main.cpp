// SPDX-License-Identifier: Apache-2.0
#include "app/cli.hpp"

#include <cstdio>
#include <exception>

// Exceptions stay in start-up code; whatever escapes it ends the process with status 1.
int main(int argc, char** argv) {
    try {
        return ssehub::app::run_cli(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ssehub: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "ssehub: unknown failure\n");
    }
    return 1;
}
