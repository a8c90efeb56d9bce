// SPDX-License-Identifier: Apache-2.0
//
// Action documents as POST /api/v1/actions receives them, and string templates alone.

#include "actions/pin.hpp"
#include "actions/template.hpp"

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // The text as one template, in both places a pin can run.
    (void)ssehub::actions::render(text, ssehub::actions::template_context::request(), "t");
    (void)ssehub::actions::render(text, ssehub::actions::template_context::probe(), "t");

    // The text as a document, parsed with the HTTP layer's bounds.
    boost::json::parse_options options;
    options.max_depth = 64;
    boost::system::error_code ec;
    const auto document = boost::json::parse(text, ec, {}, options);
    if (ec) {
        return 0;
    }
    (void)ssehub::actions::parse_document(document, ssehub::actions::pin_limits{});
    (void)ssehub::actions::check_disconnected(document, "disconnected",
                                              ssehub::actions::pin_limits{});
    return 0;
}
