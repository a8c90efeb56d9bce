// SPDX-License-Identifier: Apache-2.0
#include "actions/template.hpp"

#include "actions/path.hpp"

#include <array>
#include <boost/json.hpp>

namespace ssehub::actions {

namespace {

constexpr std::string_view open_mark = "{{";
constexpr std::string_view close_mark = "}}";

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// The value at `rest` (dotted words) below `root`, or null when a word is missing.
const boost::json::value* walk(const boost::json::value* root, std::string_view rest) {
    const boost::json::value* at = root;
    while (at != nullptr && !rest.empty()) {
        const auto dot = rest.find('.');
        const auto word = rest.substr(0, dot);
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
        const auto* object = at->if_object();
        at = object != nullptr ? object->if_contains(word) : nullptr;
    }
    return at;
}

// The last word of a dotted name: what a stand-in renders, so that ids built from it can
// be checked at registration.
std::string_view last_word(std::string_view name) noexcept {
    const auto dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

// A value as template text: a string as itself, a missing or null value as "", anything
// else as its JSON.
std::string as_text(const boost::json::value* v) {
    if (v == nullptr || v->is_null()) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->get_string());
    }
    return boost::json::serialize(*v);
}

// The roots whose names walk a JSON value: `request.x`, `item.x`, `previous.x`, `token.x`.
struct json_root {
    const boost::json::value* value = nullptr;
    bool stand_in = false;  // render the last word of a missing name
    std::string_view where; // where the root exists, for the error when it does not
};

std::optional<json_root> root_of(std::string_view head, const template_context& context) {
    if (head == "request") {
        return json_root{context.stream_request, context.stand_in, "in a route's connect actions"};
    }
    if (head == "item") {
        return json_root{context.item, false, "inside conditions.each"};
    }
    if (head == "previous") {
        return json_root{context.previous, false, "in a list of pins"};
    }
    if (head == "token") {
        return json_root{context.token, false, "in the actions of a subscriber's session"};
    }
    return std::nullopt;
}

// `item`, `previous.a.b`, `request.body.x`...: walks the root's JSON. A missing name renders
// as "" (or, when checking, as its last word); a value that is not a string renders as its
// JSON. `found` is false when `name` is not under a JSON root.
result<std::string> lookup_json(std::string_view name, const template_context& context,
                                const std::string& path, bool& found) {
    const auto dot = name.find('.');
    const auto head = name.substr(0, dot);
    const auto root = root_of(head, context);
    found = root.has_value() && (head != "request" || dot != std::string_view::npos);
    if (!found) {
        return std::string();
    }
    if (root->value == nullptr) {
        return make_error(errc::bad_request,
                          "template variable '" + std::string(name) +
                              "' is not available here (only " + std::string(root->where) + ")",
                          path);
    }
    if (root->value == template_context::unknown()) {
        return std::string(last_word(name));
    }
    const auto rest = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    const auto* at = walk(root->value, rest);
    if ((at == nullptr || at->is_null()) && root->stand_in) {
        return std::string(last_word(name));
    }
    return as_text(at);
}

// A variable name: dotted words of letters, digits, `_` and `-`. Anything else inside the
// braces (operators, spaces, helpers such as `#if`) is an expression the hub does not
// evaluate.
bool is_variable_name(std::string_view name) noexcept {
    if (name.empty() || name.front() == '.' || name.back() == '.') {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (c == '.' ? name[i - 1] == '.' : !word) {
            return false;
        }
    }
    return true;
}

// The value of `name`, or an error naming why it cannot be rendered here.
result<std::string_view> lookup(std::string_view name, const template_context& context,
                                const std::string& path) {
    struct variable {
        std::string_view name;
        const std::optional<std::string_view>* value;
    };

    const std::array<variable, 3> variables{{
        {"session.id", &context.session_id},
        {"channel.id", &context.channel_id},
        {"reason", &context.reason},
    }};

    for (const auto& v : variables) {
        if (v.name != name) {
            continue;
        }
        if (!v.value->has_value()) {
            return make_error(errc::bad_request,
                              "template variable '" + std::string(name) +
                                  "' is not available here (only in disconnected actions)",
                              path);
        }
        return **v.value;
    }

    if (!is_variable_name(name)) {
        return make_error(errc::bad_request,
                          "'{{" + std::string(name) +
                              "}}' is an expression; the hub renders only variable names such "
                              "as {{session.id}} (FEEL and CEL are not evaluated here)",
                          path);
    }
    return make_error(errc::bad_request,
                      "unknown template variable '" + std::string(name) +
                          "' (use NOEVAL: for a literal string)",
                      path);
}

} // namespace

const boost::json::value* template_context::unknown() noexcept {
    static const boost::json::value marker;
    return &marker;
}

bool is_one_variable(std::string_view text) noexcept {
    if (!text.starts_with(open_mark) || !text.ends_with(close_mark) ||
        text.size() < open_mark.size() + close_mark.size()) {
        return false;
    }
    const auto inside = text.substr(open_mark.size(), text.size() - 4);
    return inside.find(open_mark) == std::string_view::npos &&
           inside.find(close_mark) == std::string_view::npos && is_variable_name(trim(inside));
}

result<const boost::json::value*> resolve(std::string_view text, const template_context& context,
                                          const std::string& path) {
    if (!is_one_variable(text)) {
        return make_error(errc::bad_request,
                          "must be an array, or one {{variable}} naming an array (FEEL and CEL "
                          "expressions are not evaluated here)",
                          path);
    }
    const auto name = trim(text.substr(open_mark.size(), text.size() - 4));
    const auto dot = name.find('.');
    const auto root = root_of(name.substr(0, dot), context);
    if (!root || root->value == nullptr) {
        std::string message = "names no list here (use item, previous, token or request values): ";
        message += name;
        return make_error(errc::bad_request, std::move(message), path);
    }
    if (root->value == template_context::unknown() ||
        (root->stand_in && dot != std::string_view::npos &&
         walk(root->value, name.substr(dot + 1)) == nullptr)) {
        return template_context::unknown();
    }
    const auto* at = walk(root->value, dot == std::string_view::npos ? std::string_view{}
                                                                     : name.substr(dot + 1));
    if (at == nullptr || !at->is_array()) {
        std::string message = at == nullptr ? "names a missing value: " : "names no array: ";
        message += name;
        return make_error(errc::bad_request, std::move(message), path);
    }
    return at;
}

template_context template_context::probe_connect() {
    static const boost::json::value stand_in =
        boost::json::object{{"query", boost::json::object{}},
                            {"headers", boost::json::object{}},
                            {"body", boost::json::object{}}};
    return {.session_id = "session",
            .channel_id = std::nullopt,
            .reason = std::nullopt,
            .stream_request = &stand_in,
            .stand_in = true,
            .item = nullptr,
            .previous = unknown(),
            .token = unknown()};
}

bool is_template(std::string_view text) noexcept {
    return text.starts_with(noeval_prefix) || text.starts_with(feel_prefix) ||
           text.find(open_mark) != std::string_view::npos;
}

result<std::string> render(std::string_view text, const template_context& context,
                           const std::string& path) {
    if (text.starts_with(noeval_prefix)) {
        return std::string(text.substr(noeval_prefix.size()));
    }
    // Digipair marks a FEEL expression with this prefix; running it as text would send the
    // expression itself where its value was meant.
    if (text.starts_with(feel_prefix)) {
        return make_error(errc::bad_request,
                          "is a FEEL expression (EVALUATE:), which the hub cannot evaluate; "
                          "use a {{variable}} template, or NOEVAL: for a literal string",
                          path);
    }

    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const auto open = text.find(open_mark);
        if (open == std::string_view::npos) {
            out += text;
            break;
        }
        out += text.substr(0, open);
        text.remove_prefix(open + open_mark.size());

        // A `{{` without its `}}` is a typo, never literal text: NOEVAL: says that.
        const auto close = text.find(close_mark);
        if (close == std::string_view::npos) {
            return make_error(errc::bad_request,
                              "unterminated '{{' in template (use NOEVAL: for a literal string)",
                              path);
        }
        const auto name = trim(text.substr(0, close));
        bool found = false;
        if (is_variable_name(name)) {
            auto value = lookup_json(name, context, path, found);
            if (!value) {
                return value.error();
            }
            out += *value;
        }
        if (!found) {
            auto value = lookup(name, context, path);
            if (!value) {
                return value.error();
            }
            out += *value;
        }
        text.remove_prefix(close + close_mark.size());
    }
    return out;
}

result<boost::json::value> render_json(const boost::json::value& value,
                                       const template_context& context, const std::string& path) {
    switch (value.kind()) {
    case boost::json::kind::string: {
        const auto text = std::string_view(value.get_string());
        if (!is_template(text)) {
            return value;
        }
        auto rendered = render(text, context, path);
        if (!rendered) {
            return rendered.error();
        }
        return boost::json::value(*rendered, value.storage());
    }

    case boost::json::kind::array: {
        const auto& in = value.get_array();
        boost::json::array out(value.storage());
        out.reserve(in.size());
        for (std::size_t i = 0; i < in.size(); ++i) {
            auto item = render_json(in[i], context, path_index(path, i));
            if (!item) {
                return item.error();
            }
            out.push_back(std::move(*item));
        }
        return out;
    }

    case boost::json::kind::object: {
        const auto& in = value.get_object();
        boost::json::object out(value.storage());
        out.reserve(in.size());
        for (const auto& member : in) {
            auto item = render_json(member.value(), context, path_key(path, member.key()));
            if (!item) {
                return item.error();
            }
            out.emplace(member.key(), std::move(*item));
        }
        return out;
    }

    default:
        return value;
    }
}

} // namespace ssehub::actions
