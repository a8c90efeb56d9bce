// SPDX-License-Identifier: Apache-2.0
#include "actions/pin.hpp"

#include "actions/path.hpp"
#include "actions/webhook.hpp"
#include "core/validate.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <initializer_list>

namespace ssehub::actions {

namespace json = boost::json;

namespace {

// A `disconnected` pin may itself register a session with its own `disconnected` list;
// past this depth a document is refused rather than walked.
constexpr std::size_t max_nesting = 8;

std::string_view kind_name(json::kind k) noexcept {
    switch (k) {
    case json::kind::null:
        return "null";
    case json::kind::bool_:
        return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return "a number";
    case json::kind::string:
        return "a string";
    case json::kind::array:
        return "an array";
    case json::kind::object:
        return "an object";
    }
    return "a value";
}

error type_error(const json::value& v, std::string_view expected, const std::string& path) {
    std::string msg = "must be ";
    msg += expected;
    msg += ", not ";
    msg += kind_name(v.kind());
    return make_error(errc::bad_request, std::move(msg), path);
}

error missing(const std::string& path) {
    return make_error(errc::bad_request, "is required", path);
}

// A caller's value quoted into an error message, when it is short and printable. The
// message reaches a JSON body and log lines, so bytes that are not UTF-8 and control
// characters (a line break would forge a log line) are never echoed.
std::string quoted(std::string_view s) {
    constexpr std::size_t max_echo = 64;
    const bool control = std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
    if (s.size() > max_echo || control || !core::is_valid_utf8(s)) {
        return "(value not shown)";
    }
    return "'" + std::string(s) + "'";
}

// Refuses the first member of `o` whose key is not in `allowed`.
result<void> check_keys(const json::object& o, std::initializer_list<std::string_view> allowed,
                        std::string_view what, const std::string& path) {
    for (const auto& member : o) {
        const std::string_view key = member.key();
        if (!core::is_valid_utf8(key)) {
            // The path goes into the JSON error body: name the parent, never the bytes.
            return make_error(errc::bad_request, "has a property name that is not valid UTF-8",
                              path);
        }
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            return make_error(errc::bad_request,
                              "unknown property " + quoted(key) + " of " + std::string(what),
                              path_key(path, key));
        }
    }
    return {};
}

// Every string and key of a message must be valid UTF-8 (F28): the parser checks what it
// reads, but a value built in C++ by an embedding application has not been through it.
result<void> check_text(const json::value& v, const std::string& path) {
    if (v.is_string()) {
        if (!core::is_valid_utf8(v.get_string())) {
            return make_error(errc::bad_request, "is not valid UTF-8", path);
        }
        return {};
    }
    if (v.is_array()) {
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (auto r = check_text(a[i], path_index(path, i)); !r) {
                return r;
            }
        }
        return {};
    }
    if (v.is_object()) {
        for (const auto& member : v.get_object()) {
            if (!core::is_valid_utf8(member.key())) {
                return make_error(errc::bad_request, "has a key that is not valid UTF-8", path);
            }
            if (auto r = check_text(member.value(), path_key(path, member.key())); !r) {
                return r;
            }
        }
    }
    return {};
}

result<log_level> parse_level(std::string_view s, const std::string& path) {
    struct entry {
        std::string_view name;
        log_level level;
    };

    constexpr std::array<entry, 5> levels{{
        {"trace", log_level::trace},
        {"debug", log_level::debug},
        {"info", log_level::info},
        {"warn", log_level::warn},
        {"error", log_level::error},
    }};
    for (const auto& e : levels) {
        if (e.name == s) {
            return e.level;
        }
    }
    return make_error(errc::bad_request,
                      "unknown level " + quoted(s) + " (trace, debug, info, warn or error)", path);
}

// Reads the properties of one pin. Holds the pin's options and nesting depth; each accessor
// takes the properties object and its path, and names the property itself in errors.
class pin_parser {
public:
    pin_parser(const parse_options& options, std::size_t depth, bool each_item = false)
        : options_(options), depth_(depth), each_item_(each_item) {}

    result<pin> parse(const json::value& value, const std::string& path) const;

    result<json::value> disconnected_list(const json::value* list, const std::string& path) const;

    // `conditions.if`: a boolean, or a string of one `{{variable}}` (or true/false) whose
    // rendered value is false, "false", "0" or empty to skip the pin.
    result<bool> condition_holds(const json::value& v, const std::string& path) const {
        if (v.is_bool()) {
            return v.get_bool();
        }
        if (!v.is_string()) {
            return type_error(v, "a boolean or a {{variable}} string", path);
        }
        const std::string_view text = v.get_string();
        const bool literal = text == "true" || text == "false";
        const bool one_variable = text.starts_with("{{") && text.ends_with("}}") &&
                                  text.find("{{", 2) == std::string_view::npos;
        if (!literal && !one_variable) {
            return make_error(errc::bad_request,
                              "is an expression the hub cannot evaluate (FEEL and CEL are not "
                              "supported); use a boolean or one {{variable}}",
                              path);
        }
        auto rendered = render(text, options_.context, path);
        if (!rendered) {
            return rendered.error();
        }
        return !(rendered->empty() || *rendered == "false" || *rendered == "0" ||
                 *rendered == "null");
    }

private:
    result<pin> parse_each(const json::value& value, const json::value& each,
                           const std::string& path, const std::string& each_path) const;
    result<pin> parse_shorthand(const json::object& o, const std::string& path) const;
    result<pin> parse_skill(std::string_view element, const json::object& props,
                            const std::string& path, const std::string& element_path) const;
    result<pin> parse_native(std::string_view element, const json::object& props,
                             const std::string& path, const std::string& element_path) const;

    result<std::optional<std::string>>
    string_property(const json::object& props, std::string_view key, const std::string& path) const;
    result<std::string> session_id(const json::object& props, std::string_view key,
                                   const std::string& path) const;
    result<std::string> channel_id(const json::object& props, const std::string& path) const;
    result<std::string> event_name(const json::object& props, const std::string& path) const;
    result<pin_namespace> namespace_of(const json::object& props, const std::string& path) const;
    result<json::value> message(const json::object& props, const std::string& path) const;
    result<json::value> disconnected(const json::object& props, const std::string& path) const;
    result<std::optional<std::string>> session_ref(const json::object& props,
                                                   const std::string& path) const;

    const parse_options& options_;
    std::size_t depth_;
    bool each_item_; // parsing one item of conditions.each: `each` is already applied
};

result<pin> pin_parser::parse(const json::value& value, const std::string& path) const {
    if (!value.is_object()) {
        return type_error(value, "an object (a pin)", path);
    }
    const auto& o = value.get_object();
    if (!o.contains("library") && o.contains("type")) {
        return parse_shorthand(o, path);
    }

    if (auto r = check_keys(o, {"library", "element", "properties", "conditions"}, "a pin", path);
        !r) {
        return r.error();
    }

    // library and element name code, not text: they are never templates.
    const auto library_path = path_key(path, "library");
    const auto* library = o.if_contains("library");
    if (library == nullptr) {
        return missing(library_path);
    }
    if (!library->is_string()) {
        return type_error(*library, "a string", library_path);
    }
    const auto element_path = path_key(path, "element");
    const auto* element = o.if_contains("element");
    if (element == nullptr) {
        return missing(element_path);
    }
    if (!element->is_string()) {
        return type_error(*element, "a string", element_path);
    }

    // `conditions.if` decides whether the pin runs; a condition the hub cannot evaluate is
    // refused now rather than ignored, or the pin would run when its author meant it not to.
    // `conditions.each` runs the pin once per item, the item in the context.
    const auto conditions_path = path_key(path, "conditions");
    const json::value* each = nullptr;
    const json::value* if_value = nullptr;
    if (const auto* c = o.if_contains("conditions"); c != nullptr && !c->is_null()) {
        if (!c->is_object()) {
            return type_error(*c, "an object", conditions_path);
        }
        if (auto r = check_keys(c->get_object(), {"if", "each"}, "conditions", conditions_path);
            !r) {
            return r.error();
        }
        each = c->get_object().if_contains("each");
        if_value = c->get_object().if_contains("if");
    }
    if (each != nullptr && !each->is_null() && !each_item_) {
        return parse_each(value, *each, path, path_key(conditions_path, "each"));
    }
    bool runs = true;
    if (if_value != nullptr) {
        auto decided = condition_holds(*if_value, path_key(conditions_path, "if"));
        if (!decided) {
            return decided.error();
        }
        runs = *decided;
    }

    static const json::object no_properties;
    const auto props_path = path_key(path, "properties");
    const json::object* props = &no_properties;
    if (const auto* p = o.if_contains("properties"); p != nullptr && !p->is_null()) {
        if (!p->is_object()) {
            return type_error(*p, "an object", props_path);
        }
        props = &p->get_object();
    }

    const std::string_view lib = library->get_string();
    const std::string_view elem = element->get_string();
    if (lib == skill_library || lib == native_library) {
        auto p = lib == skill_library ? parse_skill(elem, *props, props_path, element_path)
                                      : parse_native(elem, *props, props_path, element_path);
        // A pin whose condition fails is still checked in full, then skipped.
        if (p && !runs) {
            return skipped_pin{std::string(pin_name(*p))};
        }
        return p;
    }
    if (options_.limits.forward) {
        // Kept as written: the engine it goes to renders and checks its own pins.
        if (auto r = check_text(value, path); !r) {
            return r.error();
        }
        return forward_pin{value};
    }
    return make_error(errc::bad_request,
                      "library " + quoted(lib) +
                          " is not available here: only @digipair/skill-sse and ssehub run "
                          "in the hub, and actions.forward_url is not set",
                      library_path);
}

result<pin> pin_parser::parse_each(const json::value& value, const json::value& each,
                                   const std::string& path, const std::string& each_path) const {
    // The list: an array written in the pin (its strings rendered), or one {{variable}}
    // naming an array (`{{previous.sessions}}`, `{{token.channels}}`, `{{item.members}}`).
    json::value literal;
    const json::value* list = nullptr;
    if (each.is_array()) {
        if (auto r = check_text(each, each_path); !r) {
            return r.error();
        }
        auto rendered = render_json(each, options_.context, each_path);
        if (!rendered) {
            return rendered.error();
        }
        literal = std::move(*rendered);
        list = &literal;
    } else if (each.is_string()) {
        auto named = resolve(each.get_string(), options_.context, each_path);
        if (!named) {
            return named.error();
        }
        list = *named;
    } else {
        return type_error(each, "an array or a {{variable}} string naming one", each_path);
    }

    // At registration a named list is not known yet: the pin is checked once, with a
    // stand-in item.
    if (list == template_context::unknown()) {
        parse_options one = options_;
        one.context.item = template_context::unknown();
        auto p = pin_parser(one, depth_, true).parse(value, path);
        if (!p) {
            return p.error();
        }
        return each_pin{};
    }

    const auto& items = list->get_array();
    if (items.size() > max_each_items) {
        return make_error(errc::limit_exceeded,
                          "holds " + std::to_string(items.size()) + " items, over the limit of " +
                              std::to_string(max_each_items),
                          each_path);
    }
    each_pin out;
    out.runs.reserve(items.size());
    for (const auto& item : items) {
        parse_options one = options_;
        one.context.item = &item;
        auto p = pin_parser(one, depth_, true).parse(value, path);
        if (!p) {
            return p.error();
        }
        out.runs.push_back(std::move(*p));
    }
    return out;
}

result<pin> pin_parser::parse_shorthand(const json::object& o, const std::string& path) const {
    if (auto r = check_keys(o, {"type", "message"}, "a shorthand action", path); !r) {
        return r.error();
    }
    const auto type_path = path_key(path, "type");
    const auto& type = o.at("type");
    if (!type.is_string()) {
        return type_error(type, "a string", type_path);
    }

    const std::string_view name = type.get_string();
    if (name == "log") {
        auto text = string_property(o, "message", path);
        if (!text) {
            return text.error();
        }
        if (!*text) {
            return missing(path_key(path, "message"));
        }
        return log_pin{std::move(**text), log_level::info};
    }
    if (name == "notify") {
        if (options_.scope != pin_scope::session_end) {
            return make_error(errc::bad_request,
                              "notify runs only in a disconnected list: it broadcasts to the "
                              "channels of the session that ended",
                              type_path);
        }
        auto msg = message(o, path);
        if (!msg) {
            return msg.error();
        }
        return notify_pin{std::move(*msg)};
    }
    return make_error(errc::bad_request, "unknown action type " + quoted(name) + " (log or notify)",
                      type_path);
}

result<pin> pin_parser::parse_skill(std::string_view element, const json::object& props,
                                    const std::string& path,
                                    const std::string& element_path) const {
    if (element == "registerSession") {
        if (auto r =
                check_keys(props, {"id", "disconnected", "reasoning", "digipair"}, element, path);
            !r) {
            return r.error();
        }
        auto id = session_id(props, "id", path);
        if (!id) {
            return id.error();
        }
        auto actions = disconnected(props, path);
        if (!actions) {
            return actions.error();
        }
        auto ns = namespace_of(props, path);
        if (!ns) {
            return ns.error();
        }
        return register_session_pin{std::move(*id), std::move(*actions), std::move(*ns)};
    }

    if (element == "registerChannel") {
        if (auto r = check_keys(props, {"session", "id", "disconnected", "reasoning", "digipair"},
                                element, path);
            !r) {
            return r.error();
        }
        auto session = session_ref(props, path);
        if (!session) {
            return session.error();
        }
        auto id = channel_id(props, path);
        if (!id) {
            return id.error();
        }
        auto actions = disconnected(props, path);
        if (!actions) {
            return actions.error();
        }
        auto ns = namespace_of(props, path);
        if (!ns) {
            return ns.error();
        }
        return register_channel_pin{std::move(*id), std::move(*session), std::move(*actions),
                                    std::move(*ns)};
    }

    if (element == "push") {
        if (auto r = check_keys(props, {"id", "message", "reasoning", "digipair"}, element, path);
            !r) {
            return r.error();
        }
        auto id = session_id(props, "id", path);
        if (!id) {
            return id.error();
        }
        auto msg = message(props, path);
        if (!msg) {
            return msg.error();
        }
        auto ns = namespace_of(props, path);
        if (!ns) {
            return ns.error();
        }
        return push_pin{std::move(*id), std::move(*msg), std::move(*ns)};
    }

    if (element == "broadcast") {
        if (auto r = check_keys(props, {"message", "event", "id", "reasoning", "digipair"}, element,
                                path);
            !r) {
            return r.error();
        }
        auto msg = message(props, path);
        if (!msg) {
            return msg.error();
        }
        auto event = event_name(props, path);
        if (!event) {
            return event.error();
        }
        auto id = channel_id(props, path);
        if (!id) {
            return id.error();
        }
        auto ns = namespace_of(props, path);
        if (!ns) {
            return ns.error();
        }
        return broadcast_pin{std::move(*id), std::move(*event), std::move(*msg), std::move(*ns)};
    }

    return make_error(errc::bad_request,
                      "unknown element " + quoted(element) +
                          " of @digipair/skill-sse (registerSession, registerChannel, push or "
                          "broadcast)",
                      element_path);
}

result<pin> pin_parser::parse_native(std::string_view element, const json::object& props,
                                     const std::string& path,
                                     const std::string& element_path) const {
    if (element == "log") {
        if (auto r = check_keys(props, {"message", "level"}, element, path); !r) {
            return r.error();
        }
        auto text = string_property(props, "message", path);
        if (!text) {
            return text.error();
        }
        if (!*text) {
            return missing(path_key(path, "message"));
        }
        auto level_text = string_property(props, "level", path);
        if (!level_text) {
            return level_text.error();
        }
        auto level = log_level::info;
        if (*level_text) {
            auto parsed = parse_level(**level_text, path_key(path, "level"));
            if (!parsed) {
                return parsed.error();
            }
            level = *parsed;
        }
        return log_pin{std::move(**text), level};
    }

    if (element == "close") {
        if (auto r = check_keys(props, {"id", "reasoning", "digipair"}, element, path); !r) {
            return r.error();
        }
        auto id = session_id(props, "id", path);
        if (!id) {
            return id.error();
        }
        auto ns = namespace_of(props, path);
        if (!ns) {
            return ns.error();
        }
        return close_pin{std::move(*id), std::move(*ns)};
    }

    if (element == "webhook") {
        if (auto r = check_keys(props, {"url", "body"}, element, path); !r) {
            return r.error();
        }
        const auto url_path = path_key(path, "url");
        auto url = string_property(props, "url", path);
        if (!url) {
            return url.error();
        }
        if (!*url) {
            return missing(url_path);
        }
        if (auto r = check_webhook_url(**url, options_.limits.webhook_allow, url_path); !r) {
            return r.error();
        }
        webhook_pin out{std::move(**url), std::nullopt};
        if (const auto* body = props.if_contains("body"); body != nullptr && !body->is_null()) {
            const auto body_path = path_key(path, "body");
            if (auto r = check_text(*body, body_path); !r) {
                return r.error();
            }
            auto rendered = render_json(*body, options_.context, body_path);
            if (!rendered) {
                return rendered.error();
            }
            out.body = std::move(*rendered);
        }
        return out;
    }

    return make_error(errc::bad_request,
                      "unknown element " + quoted(element) + " of ssehub (log, webhook or close)",
                      element_path);
}

result<std::optional<std::string>> pin_parser::string_property(const json::object& props,
                                                               std::string_view key,
                                                               const std::string& path) const {
    const auto* v = props.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<std::string>{};
    }

    const auto child = path_key(path, key);
    if (!v->is_string()) {
        return type_error(*v, "a string", child);
    }
    const std::string_view text = v->get_string();
    if (!core::is_valid_utf8(text)) {
        return make_error(errc::bad_request, "is not valid UTF-8", child);
    }
    auto rendered = render(text, options_.context, child);
    if (!rendered) {
        return rendered.error();
    }
    return std::optional<std::string>(std::move(*rendered));
}

result<std::string> pin_parser::session_id(const json::object& props, std::string_view key,
                                           const std::string& path) const {
    const auto child = path_key(path, key);
    auto id = string_property(props, key, path);
    if (!id) {
        return id.error();
    }
    if (!*id) {
        return missing(child);
    }
    if (auto r = core::check_id(**id, options_.limits.id_length, child); !r) {
        return r.error();
    }
    return std::move(**id);
}

result<std::string> pin_parser::channel_id(const json::object& props,
                                           const std::string& path) const {
    auto id = string_property(props, "id", path);
    if (!id) {
        return id.error();
    }
    if (!*id) {
        return std::string();
    }
    if (auto r = core::check_id(**id, options_.limits.id_length, path_key(path, "id"), true); !r) {
        return r.error();
    }
    return std::move(**id);
}

result<std::string> pin_parser::event_name(const json::object& props,
                                           const std::string& path) const {
    auto event = string_property(props, "event", path);
    if (!event) {
        return event.error();
    }

    // The skill's default; an empty name is the default too, so `event:` is never written
    // without a name (F05).
    if (!*event || (*event)->empty()) {
        return std::string("message");
    }
    const auto child = path_key(path, "event");
    if (auto r = core::check_event_name(**event, options_.limits.event_length, child); !r) {
        return r.error();
    }
    return std::move(**event);
}

result<pin_namespace> pin_parser::namespace_of(const json::object& props,
                                               const std::string& path) const {
    pin_namespace ns;
    for (const std::string_view key : {"digipair", "reasoning"}) {
        auto part = string_property(props, key, path);
        if (!part) {
            return part.error();
        }
        if (!*part) {
            continue;
        }
        const auto child = path_key(path, key);
        if (auto r = core::check_id(**part, options_.limits.id_length, child, true); !r) {
            return r.error();
        }
        (key == "digipair" ? ns.digipair : ns.reasoning) = std::move(**part);
    }
    return ns;
}

result<json::value> pin_parser::message(const json::object& props, const std::string& path) const {
    const auto child = path_key(path, "message");
    const auto* v = props.if_contains("message");
    if (v == nullptr || v->is_null()) {
        return missing(child);
    }
    if (auto r = check_text(*v, child); !r) {
        return r.error();
    }
    auto rendered = render_json(*v, options_.context, child);
    if (!rendered) {
        return rendered.error();
    }

    // Measured here as well as in the hub, so that an oversized message in pin [3] stops
    // the document before pins [0] to [2] run.
    const auto size = json::serialize(*rendered).size();
    if (size > options_.limits.message_limit) {
        return make_error(errc::payload_too_large,
                          "is " + std::to_string(size) + " bytes of JSON, over the limit of " +
                              std::to_string(options_.limits.message_limit),
                          child);
    }
    return std::move(*rendered);
}

result<json::value> pin_parser::disconnected(const json::object& props,
                                             const std::string& path) const {
    return disconnected_list(props.if_contains("disconnected"), path_key(path, "disconnected"));
}

result<json::value> pin_parser::disconnected_list(const json::value* list,
                                                  const std::string& path) const {
    if (list == nullptr || list->is_null()) {
        return json::value();
    }
    if (!list->is_array()) {
        return type_error(*list, "an array of pins", path);
    }
    if (depth_ >= max_nesting) {
        return make_error(errc::bad_request,
                          "disconnected lists are nested more than " + std::to_string(max_nesting) +
                              " deep",
                          path);
    }

    // The pins run later, when a session ends, with that session's values: check each one
    // now with stand-in values, and keep the list as written so it renders at run time.
    const parse_options nested{options_.limits, pin_scope::session_end, template_context::probe()};
    const pin_parser parser(nested, depth_ + 1);
    const auto& pins = list->get_array();
    for (std::size_t i = 0; i < pins.size(); ++i) {
        if (auto r = parser.parse(pins[i], path_index(path, i)); !r) {
            return r.error();
        }
    }
    // An empty list is kept, not turned into null: the hub keeps a session's actions on
    // null and replaces them with an empty list, which is how a caller clears them.
    return *list;
}

result<std::optional<std::string>> pin_parser::session_ref(const json::object& props,
                                                           const std::string& path) const {
    const auto child = path_key(path, "session");
    const auto* v = props.if_contains("session");
    if (v == nullptr || v->is_null()) {
        return std::optional<std::string>{};
    }

    // `{id}` is what registerSession returns, so its other fields are allowed and ignored.
    if (v->is_object()) {
        auto id = session_id(v->get_object(), "id", child);
        if (!id) {
            return id.error();
        }
        return std::optional<std::string>(std::move(*id));
    }
    if (v->is_string()) {
        auto id = session_id(props, "session", path);
        if (!id) {
            return id.error();
        }
        return std::optional<std::string>(std::move(*id));
    }
    return type_error(*v, "a session object {id} or an id string", child);
}

} // namespace

namespace_id pin_namespace::resolve(const namespace_id& fallback) const {
    namespace_id ns = fallback;
    if (digipair) {
        ns.digipair = *digipair;
    }
    if (reasoning) {
        ns.reasoning = *reasoning;
    }
    return ns;
}

std::string_view pin_name(const pin& p) noexcept {
    struct namer {
        std::string_view operator()(const register_session_pin&) const { return "registerSession"; }

        std::string_view operator()(const register_channel_pin&) const { return "registerChannel"; }

        std::string_view operator()(const push_pin&) const { return "push"; }

        std::string_view operator()(const broadcast_pin&) const { return "broadcast"; }

        std::string_view operator()(const log_pin&) const { return "log"; }

        std::string_view operator()(const close_pin&) const { return "close"; }

        std::string_view operator()(const notify_pin&) const { return "notify"; }

        std::string_view operator()(const webhook_pin&) const { return "webhook"; }

        std::string_view operator()(const forward_pin&) const { return "forward"; }

        std::string_view operator()(const skipped_pin&) const { return "skipped"; }

        std::string_view operator()(const each_pin&) const { return "each"; }
    };

    return std::visit(namer{}, p);
}

result<pin> parse_pin(const json::value& value, const std::string& path,
                      const parse_options& options) {
    return pin_parser(options, 0).parse(value, path);
}

result<std::vector<pin>> parse_document(const json::value& document, const pin_limits& limits) {
    // `previous` is known only as each pin runs: checked here with a stand-in, rendered
    // again by the runner.
    auto context = template_context::request();
    context.previous = template_context::unknown();
    const parse_options options{limits, pin_scope::request, context};
    const pin_parser parser(options, 0);

    if (document.is_object()) {
        auto one = parser.parse(document, {});
        if (!one) {
            return one.error();
        }
        std::vector<pin> pins;
        pins.push_back(std::move(*one));
        return pins;
    }
    if (!document.is_array()) {
        return type_error(document, "a pin object or an array of pins", "body");
    }

    // Every pin is checked before the caller runs any of them (F04).
    const auto& items = document.get_array();
    std::vector<pin> pins;
    pins.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto p = parser.parse(items[i], path_index({}, i));
        if (!p) {
            return p.error();
        }
        pins.push_back(std::move(*p));
    }
    return pins;
}

result<void> check_disconnected(const json::value& list, const std::string& path,
                                const pin_limits& limits) {
    const parse_options options{limits, pin_scope::session_end, template_context::probe()};
    auto checked = pin_parser(options, 0).disconnected_list(&list, path);
    if (!checked) {
        return checked.error();
    }
    return {};
}

} // namespace ssehub::actions
