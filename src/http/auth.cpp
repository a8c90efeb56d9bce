// SPDX-License-Identifier: Apache-2.0
#include "http/auth.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <jwt.h>
#include <limits>
#include <memory>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace ssehub::http {

namespace json = boost::json;

namespace {

constexpr std::size_t sha256_hex_length = 64;
constexpr std::size_t shown_hex = 8;            ///< hex digits of a key's hash that name it in logs
constexpr std::size_t max_cached_tokens = 4096; ///< verified tokens kept
constexpr std::size_t max_cached_token_bytes = 2048; ///< longer tokens are verified each time

error unauthorized(std::string message) {
    return make_error(errc::unauthorized, std::move(message), "headers.authorization");
}

// Splits `text` at each `sep`, dropping empty parts.
std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = std::min(text.find(sep, start), text.size());
        if (end > start) {
            out.emplace_back(text.substr(start, end - start));
        }
        start = end + 1;
    }
    return out;
}

bool matches(std::string_view pattern, std::string_view value) {
    return pattern == "*" || pattern == value;
}

// `Authorization: Bearer X` gives X. Nothing when the header is missing; an empty string for
// another scheme or an empty credential.
std::optional<std::string> bearer(const request& req) {
    auto h = req.find(boost::beast::http::field::authorization);
    if (h == req.end()) {
        return std::nullopt;
    }
    std::string_view v = h->value();
    constexpr std::string_view scheme = "bearer ";
    if (v.size() <= scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), v.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        })) {
        return std::string{};
    }
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') {
        v.remove_prefix(1);
    }
    return std::string(v);
}

bool looks_like_jwt(std::string_view token) {
    return std::count(token.begin(), token.end(), '.') == 2;
}

std::vector<std::string> string_list(const json::value* v) {
    std::vector<std::string> out;
    if (v == nullptr) {
        return out;
    }
    if (v->is_string()) {
        out.emplace_back(v->as_string());
        return out;
    }
    if (const auto* a = v->if_array()) {
        for (const auto& e : *a) {
            if (e.is_string()) {
                out.emplace_back(e.as_string());
            }
        }
    }
    return out;
}

std::optional<std::int64_t> number_claim(const json::object& claims, std::string_view name) {
    const auto* v = claims.if_contains(name);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (v->is_int64()) {
        return v->as_int64();
    }
    if (v->is_uint64()) {
        return static_cast<std::int64_t>(std::min<std::uint64_t>(
            v->as_uint64(), static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
    }
    // A time past what int64 holds (or NaN) is no time: the claim is refused.
    constexpr double bound = 9.0e18;
    if (v->is_double() && v->as_double() > -bound && v->as_double() < bound) {
        return static_cast<std::int64_t>(v->as_double());
    }
    return std::nullopt;
}

result<publisher_rights> parse_rights(const std::vector<std::string>& names) {
    publisher_rights r;
    for (const auto& n : names) {
        if (n == "push") {
            r.push = true;
        } else if (n == "broadcast") {
            r.broadcast = true;
        } else if (n == "membership") {
            r.membership = true;
        } else if (n == "introspection") {
            r.introspection = true;
        } else if (n == "all") {
            r = publisher_rights::all();
        } else {
            return make_error(errc::bad_request,
                              "unknown right '" + n +
                                  "'; expected push, broadcast, membership, introspection or all");
        }
    }
    return r;
}

jwt_alg_t algorithm(std::string_view name) {
    if (name == "HS256") {
        return JWT_ALG_HS256;
    }
    if (name == "RS256") {
        return JWT_ALG_RS256;
    }
    if (name == "ES256") {
        return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

} // namespace

bool publisher_rights::allows(const namespace_id& ns) const {
    return std::any_of(namespaces.begin(), namespaces.end(), [&ns](const std::string& p) {
        if (p == "*") {
            return true;
        }
        const auto slash = p.find('/');
        if (slash == std::string::npos) {
            return false;
        }
        return matches(std::string_view(p).substr(0, slash), ns.digipair) &&
               matches(std::string_view(p).substr(slash + 1), ns.reasoning);
    });
}

bool subscriber_grant::allows_session(std::string_view id) const {
    return std::any_of(sessions.begin(), sessions.end(),
                       [id](const std::string& s) { return matches(s, id); });
}

bool subscriber_grant::allows_any_session() const {
    return std::ranges::find(sessions, "*") != sessions.end();
}

bool subscriber_grant::allows_channel(std::string_view id) const {
    return std::any_of(channels.begin(), channels.end(),
                       [id](const std::string& c) { return matches(c, id); });
}

std::string sha256_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

result<api_key> parse_publisher_key(std::string_view text) {
    api_key key;
    key.rights = publisher_rights::all();
    bool have_hash = false;
    for (const auto& field : split(text, ' ')) {
        const std::string_view f = field;
        if (f.starts_with("sha256:")) {
            key.sha256 = f.substr(7);
            std::ranges::transform(key.sha256, key.sha256.begin(), [](char c) {
                return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            });
            if (key.sha256.size() != sha256_hex_length ||
                key.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
                return make_error(errc::bad_request,
                                  "sha256: takes the 64 hex digits of the key's SHA-256 "
                                  "(printf %s KEY | sha256sum)");
            }
            have_hash = true;
        } else if (f.starts_with("tenant=")) {
            key.tenant = f.substr(7);
        } else if (f.starts_with("rights=")) {
            auto r = parse_rights(split(f.substr(7), '+'));
            if (!r) {
                return r.error();
            }
            r->namespaces = key.rights.namespaces;
            key.rights = std::move(*r);
        } else if (f.starts_with("namespaces=")) {
            key.rights.namespaces = split(f.substr(11), '+');
        } else {
            return make_error(errc::bad_request,
                              "unknown field '" + field +
                                  "'; expected sha256:HEX, tenant=, rights= or namespaces=");
        }
    }
    if (!have_hash) {
        return make_error(errc::bad_request, "missing sha256:HEX (keys are stored hashed)");
    }
    return key;
}

authenticator::authenticator(auth_options options) : options_(std::move(options)) {}

result<void> authenticator::load() {
    for (const auto& text : options_.publisher_keys) {
        auto key = parse_publisher_key(text);
        if (!key) {
            return make_error(errc::bad_request,
                              "configuration error: auth.publishers.keys: " + key.error().message,
                              "auth.publishers.keys");
        }
        keys_.push_back(std::move(*key));
    }

    const auto make = [](const jwt_options& o, std::string_view prefix) -> result<verifier> {
        verifier v{o, o.secret};
        if (o.alg == "HS256") {
            return v;
        }
        std::ifstream in(o.key_file, std::ios::binary);
        if (!in) {
            return make_error(errc::bad_request,
                              "configuration error: " + std::string(prefix) + ".jwt_key_file = \"" +
                                  o.key_file + "\": cannot read it: " + std::strerror(errno),
                              std::string(prefix) + ".jwt_key_file");
        }
        v.key.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        return v;
    };
    if (!options_.publisher_jwt.alg.empty()) {
        auto v = make(options_.publisher_jwt, "auth.publishers");
        if (!v) {
            return v.error();
        }
        publisher_jwt_ = std::move(*v);
    }
    if (!options_.subscriber_jwt.alg.empty()) {
        auto v = make(options_.subscriber_jwt, "auth.subscribers");
        if (!v) {
            return v.error();
        }
        subscriber_jwt_ = std::move(*v);
    }
    return {};
}

std::optional<json::value> authenticator::cached_claims(const std::string& key) const {
    std::lock_guard lock(cache_mu_);
    auto it = verified_.find(key);
    if (it == verified_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void authenticator::remember_claims(const std::string& key, const json::value& claims) const {
    if (key.size() > max_cached_token_bytes) {
        return;
    }
    std::lock_guard lock(cache_mu_);
    // Bounded: past the limit the cache starts over rather than growing.
    if (verified_.size() >= max_cached_tokens) {
        verified_.clear();
    }
    verified_.emplace(key, claims);
}

result<json::value> authenticator::verify_signature(const verifier& v, const std::string& token,
                                                    std::string_view who) const {
    // libjwt checks the form and the signature; the algorithm is checked here.
    jwt_t* raw = nullptr;
    const int rc =
        jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(v.key.data()),
                   static_cast<int>(v.key.size()));
    const std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
    if (rc != 0 || !jwt) {
        return unauthorized("the " + std::string(who) +
                            " token is malformed or its signature does not verify");
    }
    if (jwt_get_alg(jwt.get()) != algorithm(v.options.alg)) {
        return unauthorized("the " + std::string(who) + " token must be signed with " +
                            v.options.alg);
    }

    const std::unique_ptr<char, decltype(&std::free)> text(jwt_get_grants_json(jwt.get(), nullptr),
                                                           &std::free);
    boost::system::error_code ec;
    auto claims = json::parse(text ? std::string_view(text.get()) : "{}", ec);
    if (ec || !claims.is_object()) {
        return unauthorized("the " + std::string(who) + " token's claims are not a JSON object");
    }
    return claims;
}

result<json::value> authenticator::verify_jwt(const verifier& v, const std::string& token,
                                              std::string_view who) const {
    // A signature checked once stays checked: the claims of a verified token are kept, so a
    // publisher reusing its token costs no asymmetric verification per request (ES256 through
    // libjwt parses the PEM key each time, about 2 ms). Times, audience and issuer are checked
    // on every use.
    const std::string cache_key = std::string(who) + ':' + token;
    auto claims = cached_claims(cache_key);
    if (!claims) {
        auto verified = verify_signature(v, token, who);
        if (!verified) {
            return verified.error();
        }
        claims = std::move(*verified);
        remember_claims(cache_key, *claims);
    }
    const auto& c = claims->as_object();

    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (auto exp = number_claim(c, "exp"); c.contains("exp") && (!exp || now >= *exp)) {
        return unauthorized("the " + std::string(who) + " token has expired (exp)");
    }
    if (auto nbf = number_claim(c, "nbf"); c.contains("nbf") && (!nbf || now < *nbf)) {
        return unauthorized("the " + std::string(who) + " token is not valid yet (nbf)");
    }
    if (!v.options.audience.empty()) {
        const auto aud = string_list(c.if_contains("aud"));
        if (std::ranges::find(aud, v.options.audience) == aud.end()) {
            return unauthorized("the " + std::string(who) + " token is for another audience (aud)");
        }
    }
    if (!v.options.issuer.empty()) {
        const auto* iss = c.if_contains("iss");
        if (iss == nullptr || !iss->is_string() || iss->as_string() != v.options.issuer) {
            return unauthorized("the " + std::string(who) + " token has another issuer (iss)");
        }
    }
    return std::move(*claims);
}

result<publisher> authenticator::authenticate_publisher(const request& req) const {
    if (publishers_open()) {
        return publisher{{}, publisher_rights::all(), "open"};
    }
    auto token = bearer(req);
    if (!token) {
        return unauthorized("this call needs `Authorization: Bearer <API key or token>`");
    }
    if (token->empty()) {
        return unauthorized("the Authorization header must be `Bearer <API key or token>`");
    }

    if (publisher_jwt_ && looks_like_jwt(*token)) {
        auto claims = verify_jwt(*publisher_jwt_, *token, "publisher");
        if (!claims) {
            return claims.error();
        }
        const auto& c = claims->as_object();
        publisher p;
        if (const auto* t = c.if_contains("tenant"); t != nullptr) {
            // Anything but a string would fall back to the default tenant, the widest one.
            if (!t->is_string()) {
                return unauthorized("the publisher token's tenant claim must be a string");
            }
            p.tenant = t->as_string();
        }
        auto rights = parse_rights(string_list(c.if_contains("rights")));
        if (!rights) {
            return unauthorized("the publisher token's rights claim: " + rights.error().message);
        }
        p.rights = std::move(*rights);
        if (c.contains("namespaces")) {
            p.rights.namespaces = string_list(c.if_contains("namespaces"));
        }
        const auto* sub = c.if_contains("sub");
        p.name = "jwt:" + p.tenant + ":" +
                 (sub && sub->is_string() ? std::string(sub->as_string()) : "");
        return p;
    }

    const auto hash = sha256_hex(*token);
    for (const auto& key : keys_) {
        if (CRYPTO_memcmp(key.sha256.data(), hash.data(), hash.size()) == 0) {
            return publisher{key.tenant, key.rights, "key:" + hash.substr(0, shown_hex)};
        }
    }
    return unauthorized("unknown API key or token");
}

result<std::optional<subscriber_grant>>
authenticator::authenticate_subscriber(const request& req, const boost::urls::url_view& url) const {
    if (subscribers_open() || !subscriber_jwt_) {
        return std::optional<subscriber_grant>{};
    }
    auto token = bearer(req);
    if (!token || token->empty()) {
        for (auto p : url.params()) {
            if (p.key == "token") {
                token = std::string(p.value);
            }
        }
    }
    if (!token || token->empty()) {
        return unauthorized("this stream needs a token: `Authorization: Bearer <JWT>` or "
                            "`?token=<JWT>`");
    }
    auto claims = verify_jwt(*subscriber_jwt_, *token, "subscriber");
    if (!claims) {
        return claims.error();
    }
    const auto& c = claims->as_object();
    subscriber_grant g;
    if (const auto* t = c.if_contains("tenant"); t != nullptr) {
        if (!t->is_string()) {
            return unauthorized("the subscriber token's tenant claim must be a string");
        }
        g.tenant = t->as_string();
    }
    g.sessions = string_list(c.if_contains("sessions"));
    g.channels = string_list(c.if_contains("channels"));
    g.claims = std::move(*claims);
    return std::optional<subscriber_grant>{std::move(g)};
}

bool rate_limiter::allow(const std::string& name, clock::time_point now) {
    if (rate_ == 0) {
        return true;
    }
    const auto rate = static_cast<double>(rate_);
    std::lock_guard lock(mu_);
    sweep(now);
    auto [it, fresh] = buckets_.try_emplace(name, bucket{rate, now});
    auto& b = it->second;
    if (!fresh) {
        const std::chrono::duration<double> elapsed = now - b.at;
        b.tokens = std::min(rate, b.tokens + elapsed.count() * rate);
        b.at = now;
    }
    if (b.tokens < 1.0) {
        return false;
    }
    b.tokens -= 1.0;
    return true;
}

std::size_t rate_limiter::size() const {
    std::lock_guard lock(mu_);
    return buckets_.size();
}

void rate_limiter::sweep(clock::time_point now) {
    constexpr auto refill = std::chrono::seconds(1);
    if (now - swept_ < refill) {
        return;
    }
    swept_ = now;
    std::erase_if(buckets_,
                  [now, refill](const auto& entry) { return now - entry.second.at >= refill; });
}

std::string redact_target(std::string_view target) {
    std::string out(target);
    std::size_t at = 0;
    while ((at = out.find("token=", at)) != std::string::npos) {
        const bool starts = at > 0 && (out[at - 1] == '?' || out[at - 1] == '&');
        at += 6;
        if (!starts) {
            continue;
        }
        const auto end = std::min(out.find('&', at), out.size());
        out.replace(at, end - at, "***");
    }
    return out;
}

} // namespace ssehub::http
