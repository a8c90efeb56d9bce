// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/auth_options.hpp"
#include "http/http_session.hpp"

#include <boost/json/value.hpp>
#include <boost/url/url_view.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <ssehub/error.hpp>
#include <ssehub/types.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ssehub::http {

/// What a publisher may do, inside its tenant.
struct publisher_rights {
    bool push = false;
    bool broadcast = false;
    bool membership = false;    ///< register sessions and channels, join, leave, disconnect
    bool introspection = false; ///< list sessions and channels; /metrics in the default tenant

    /// `digipair/reasoning` patterns; `*` stands for any value of a part, and a lone `*`
    /// for every namespace. `/` is the default namespace.
    std::vector<std::string> namespaces{"*"};

    bool allows(const namespace_id& ns) const;

    static publisher_rights all() { return {true, true, true, true, {"*"}}; }
};

/// Who is calling the control API.
struct publisher {
    std::string tenant;
    publisher_rights rights;
    std::string name; ///< for logs and the publish rate: `key:<first hex>`, `jwt:<sub>`, `open`
};

/// An `auth.publishers.keys` entry, parsed.
struct api_key {
    std::string sha256; ///< lower-case hex of the key's SHA-256
    std::string tenant;
    publisher_rights rights;
};

/// Parses `sha256:HEX [tenant=T] [rights=R+R] [namespaces=N+N]`; rights default to all of
/// them, namespaces to `*`, the tenant to the default one.
result<api_key> parse_publisher_key(std::string_view text);

/// Lower-case hex SHA-256 of `text`: how an API key is stored.
std::string sha256_hex(std::string_view text);

/// What a subscriber's token lets it follow. An empty grant (open mode) allows anything.
struct subscriber_grant {
    std::string tenant;
    std::vector<std::string> sessions;   ///< `*` allows any id
    std::vector<std::string> channels;   ///< `*` allows any channel
    boost::json::value claims = nullptr; ///< the verified token's claims, for its actions

    bool allows_session(std::string_view id) const;
    bool allows_any_session() const;
    bool allows_channel(std::string_view id) const;
};

/// Checks the credentials of requests: API keys and JWTs of publishers, JWTs of
/// subscribers. Immutable after load(); every member is safe to call from any thread.
class authenticator {
public:
    explicit authenticator(auth_options options);

    /// Parses the keys and reads the PEM files. Fails with one line naming the setting.
    result<void> load();

    /// True when the control API is open to anyone who can reach it (no key, no JWT).
    bool publishers_open() const noexcept { return !options_.publishers_configured(); }

    bool subscribers_open() const noexcept { return options_.subscriber_mode != "jwt"; }

    /// The caller of a control request, from `Authorization: Bearer`; unauthorized when it
    /// is missing or wrong. Open access gives the default tenant and every right.
    result<publisher> authenticate_publisher(const request& req) const;

    /// The grant of a subscription, from `Authorization: Bearer` or `?token=`; nothing in
    /// open mode. Unauthorized when the token is missing, forged or out of its time.
    result<std::optional<subscriber_grant>>
    authenticate_subscriber(const request& req, const boost::urls::url_view& url) const;

private:
    struct verifier {
        jwt_options options;
        std::string key; ///< the secret, or the PEM text of the public key
    };

    result<boost::json::value> verify_jwt(const verifier& v, const std::string& token,
                                          std::string_view who) const;
    result<boost::json::value> verify_signature(const verifier& v, const std::string& token,
                                                std::string_view who) const;
    std::optional<boost::json::value> cached_claims(const std::string& key) const;
    void remember_claims(const std::string& key, const boost::json::value& claims) const;

    auth_options options_;
    std::vector<api_key> keys_;
    std::optional<verifier> publisher_jwt_;
    std::optional<verifier> subscriber_jwt_;

    // The claims of tokens whose signature verified, by `who:token`; bounded.
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, boost::json::value> verified_;
};

/// `limits.publish_rate`: a token bucket per publisher name, `rate` requests per second with
/// bursts of the same size. Thread-safe.
///
/// A bucket left alone for a second is full again, the same as a new one, so it is dropped:
/// at most once a second, the next call sweeps them. The map holds only the names seen in
/// the last second or two, however many publishers (JWT subjects, say) come and go.
class rate_limiter {
public:
    explicit rate_limiter(std::size_t rate) : rate_(rate) {}

    /// True when `name` may make one more request now; `rate` 0 always allows.
    bool allow(const std::string& name, clock::time_point now = clock::now());

    /// Buckets held now, for /metrics and the tests.
    std::size_t size() const;

private:
    struct bucket {
        double tokens = 0;
        clock::time_point at;
    };

    void sweep(clock::time_point now);

    std::size_t rate_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, bucket> buckets_;
    clock::time_point swept_{};
};

/// `target` with the value of every `token` query parameter replaced by `***`, for logs.
std::string redact_target(std::string_view target);

} // namespace ssehub::http
