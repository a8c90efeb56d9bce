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
/// them available in `disconnected` pins; `{{request.query.x}}`, `{{request.body.x}}`,
/// `{{request.headers.x}}` (with `{{session.id}}`) in a route's connect pins; `{{item}}` and
/// `{{item.x}}` inside `conditions.each`; `{{previous}}` and `{{previous.x}}`, the result of
/// the prior pin of the same list; `{{token.x}}`, a claim of the subscriber's verified JWT.
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

    /// The current item of `conditions.each`; null outside one, where `{{item}}` is refused.
    const boost::json::value* item = nullptr;

    /// The result of the prior pin of the list (null JSON before the first); a null pointer
    /// where pins run alone.
    const boost::json::value* previous = nullptr;

    /// The claims of the subscriber's verified JWT (an empty object when it had none); a
    /// null pointer where no subscriber is involved.
    const boost::json::value* token = nullptr;

    /// A root (item, previous, token) that points here is a stand-in: any name below it
    /// renders as its last word, as `request.*` does when checking. Used at registration,
    /// where the value is not known yet.
    static const boost::json::value* unknown() noexcept;

    /// A pin of a request (POST /api/v1/actions): no variable is available.
    static template_context request() { return {}; }

    /// Stand-in values for checking a `disconnected` pin when it is registered: each
    /// variable renders as a value of its kind, so the rendered string can be checked
    /// like the one that will run.
    static template_context probe() {
        return {.session_id = "session",
                .channel_id = "channel",
                .reason = "client_closed",
                .stream_request = nullptr,
                .stand_in = true,
                .item = nullptr,
                .previous = unknown(),
                .token = unknown()};
    }

    /// Stand-in values for checking a route's connect pins at start-up.
    static template_context probe_connect();
};

/// Renders one string property. `path` names the string in errors. Fails, with bad_request,
/// on an unterminated `{{`, an unknown variable or one the context does not provide.
result<std::string> render(std::string_view text, const template_context& context,
                           const std::string& path);

/// The JSON value named by a string that is exactly one `{{variable}}` under `item`,
/// `previous`, `token` or `request` (for `conditions.each`, where an array must stay an
/// array). Points into the context's values, or is `unknown()` under a stand-in root. Fails
/// on a name that is missing or not available, and on anything but one such variable.
result<const boost::json::value*> resolve(std::string_view text, const template_context& context,
                                          const std::string& path);

/// True when `text` is one `{{variable}}` and nothing else.
bool is_one_variable(std::string_view text) noexcept;

/// True when render() could change `text`: it holds `{{` or starts with NOEVAL:.
bool is_template(std::string_view text) noexcept;

/// Renders every string value inside `value`, at any depth (object keys are left alone).
/// Values without a template are copied unchanged.
result<boost::json::value> render_json(const boost::json::value& value,
                                       const template_context& context, const std::string& path);

} // namespace ssehub::actions
