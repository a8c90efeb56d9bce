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

// Names a later version provides; until then they are refused by name, which reads better
// than "unknown variable" for a documented one.
bool is_planned(std::string_view name) noexcept {
    return name.starts_with("token.");
}

// `request.a.b`: walks the request's JSON. A missing name renders as "" (or, when checking,
// as its last word); a value that is not a string renders as its JSON.
result<std::string> lookup_request(std::string_view name, const template_context& context,
                                   const std::string& path) {
    if (context.stream_request == nullptr) {
        return make_error(errc::bad_request,
                          "template variable '" + std::string(name) +
                              "' is not available here (only in a route's connect actions)",
                          path);
    }
    const boost::json::value* at = context.stream_request;
    std::string_view rest = name.substr(std::string_view("request.").size());
    std::string_view word;
    while (!rest.empty()) {
        const auto dot = rest.find('.');
        word = rest.substr(0, dot);
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
        const auto* object = at != nullptr ? at->if_object() : nullptr;
        at = object != nullptr ? object->if_contains(word) : nullptr;
    }
    if (at == nullptr || at->is_null()) {
        return context.stand_in ? std::string(word) : std::string();
    }
    if (at->is_string()) {
        return std::string(at->get_string());
    }
    return boost::json::serialize(*at);
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
    if (is_planned(name)) {
        return make_error(errc::bad_request,
                          "template variable '" + std::string(name) + "' is not supported yet",
                          path);
    }
    return make_error(errc::bad_request,
                      "unknown template variable '" + std::string(name) +
                          "' (use NOEVAL: for a literal string)",
                      path);
}

} // namespace

template_context template_context::probe_connect() {
    static const boost::json::value stand_in =
        boost::json::object{{"query", boost::json::object{}},
                            {"headers", boost::json::object{}},
                            {"body", boost::json::object{}}};
    return {"session", std::nullopt, std::nullopt, &stand_in, true};
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
        if (name.starts_with("request.") && is_variable_name(name)) {
            auto value = lookup_request(name, context, path);
            if (!value) {
                return value.error();
            }
            out += *value;
        } else {
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
