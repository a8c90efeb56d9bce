// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <ssehub/error.hpp>
#include <string>
#include <string_view>

namespace ssehub::actions {

/// A string that starts with this is literal: the prefix is removed and nothing is replaced.
inline constexpr std::string_view noeval_prefix = "NOEVAL:";

/// A string that starts with this is a FEEL expression in Digipair; the hub refuses it.
inline constexpr std::string_view feel_prefix = "EVALUATE:";

/// The values a template may name. A field left empty (`nullopt`) is not available where the
/// pin runs: a template naming it is refused, so a mistake shows when the pin is registered
/// instead of as an empty string when it runs.
///
/// The variables of this version: `{{session.id}}`, `{{channel.id}}` and `{{reason}}`, all of
/// them available in `disconnected` pins, and `{{request.query.x}}`, `{{request.body.x}}`,
/// `{{request.headers.x}}` (with `{{session.id}}`) in a route's connect pins. `token.*` is
/// a known name refused as not supported yet.
struct template_context {
    std::optional<std::string_view> session_id;
    std::optional<std::string_view> channel_id; ///< `""` in a session's own `disconnected`
    std::optional<std::string_view> reason;

    /// The request that opened a stream, for a route's connect actions:
    /// `{query: {...}, headers: {...}, body: ...}`; `{{request.body.userId}}` walks it. Null
    /// where there is no such request.
    const boost::json::value* stream_request = nullptr;

    /// When checking at registration: a `request.*` name the stand-in lacks renders as its
    /// last word instead of "", so that ids built from it can be checked.
    bool stand_in = false;

    /// A pin of a request (POST /api/v1/actions): no variable is available.
    static template_context request() { return {}; }

    /// Stand-in values for checking a `disconnected` pin when it is registered: each
    /// variable renders as a value of its kind, so the rendered string can be checked
    /// like the one that will run.
    static template_context probe() {
        return {"session", "channel", "client_closed", nullptr, true};
    }

    /// Stand-in values for checking a route's connect pins at start-up.
    static template_context probe_connect();
};

/// Renders one string property. `path` names the string in errors. Fails, with bad_request,
/// on an unterminated `{{`, an unknown variable or one the context does not provide.
result<std::string> render(std::string_view text, const template_context& context,
                           const std::string& path);

/// True when render() could change `text`: it holds `{{` or starts with NOEVAL:.
bool is_template(std::string_view text) noexcept;

/// Renders every string value inside `value`, at any depth (object keys are left alone).
/// Values without a template are copied unchanged.
result<boost::json::value> render_json(const boost::json::value& value,
                                       const template_context& context, const std::string& path);

} // namespace ssehub::actions
