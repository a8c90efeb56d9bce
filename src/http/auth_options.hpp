// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace ssehub::http {

/// How JSON Web Tokens of one audience (publishers or subscribers) are verified. `alg` empty
/// means none are accepted; otherwise exactly that algorithm is, never another (a token
/// signed HS256 with an RS256 public key as its secret is refused).
struct jwt_options {
    std::string alg;      ///< `HS256`, `RS256` or `ES256`; empty: JWTs are off
    std::string secret;   ///< HS256: the shared secret
    std::string key_file; ///< RS256, ES256: a PEM file holding the public key
    std::string audience; ///< when set, `aud` must name it
    std::string issuer;   ///< when set, `iss` must equal it
};

/// The `auth.*` settings of DESIGN.md sections 6 and 9, as configured.
struct auth_options {
    /// `auth.publishers.keys`: one entry per API key, written
    /// `sha256:HEX [tenant=T] [rights=push+broadcast+membership+introspection] [namespaces=N+N]`.
    std::vector<std::string> publisher_keys;
    jwt_options publisher_jwt;            ///< `auth.publishers.jwt_*`
    std::string subscriber_mode = "open"; ///< `auth.subscribers.mode`: `open` or `jwt`
    jwt_options subscriber_jwt;           ///< `auth.subscribers.jwt_*`

    /// True when publishers must present a key or a token.
    bool publishers_configured() const {
        return !publisher_keys.empty() || !publisher_jwt.alg.empty();
    }
};

} // namespace ssehub::http
