// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the trust tests need beside the harness: tokens signed as an identity provider would
// sign them (libjwt), key pairs made by the openssl command, a run of `ssehub` that is
// expected to stop at start-up, and the SHA-256 form of an API key.

#include "harness.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <jwt.h>
#include <memory>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ssehub::test {

/// Seconds since the epoch, for `exp` and `nbf`.
inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A compact JWS of `claims`, signed with `alg` (`HS256`, `RS256`, `ES256` or `none`) and
/// `key` (the secret, or a private key in PEM).
inline std::string sign_jwt(const boost::json::object& claims, std::string_view alg,
                            const std::string& key) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) {
        throw std::runtime_error("jwt_new failed");
    }
    const std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
    const std::string text = boost::json::serialize(claims);
    if (jwt_add_grants_json(jwt.get(), text.c_str()) != 0) {
        throw std::runtime_error("jwt_add_grants_json failed");
    }
    const jwt_alg_t a = jwt_str_alg(std::string(alg).c_str());
    const auto* k =
        a == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data());
    if (jwt_set_alg(jwt.get(), a, k, a == JWT_ALG_NONE ? 0 : static_cast<int>(key.size())) != 0) {
        throw std::runtime_error("jwt_set_alg failed for " + std::string(alg));
    }
    char* out = jwt_encode_str(jwt.get());
    if (out == nullptr) {
        throw std::runtime_error("jwt_encode_str failed");
    }
    std::string token(out);
    std::free(out);
    return token;
}

/// The hex SHA-256 of `text`, as `auth.publishers.keys` stores a key.
inline std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
    std::string out;
    constexpr std::string_view hex = "0123456789abcdef";
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

/// A temporary folder, removed with its contents at the end of the scope.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "ssehub-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }

    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }

    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// What a command printed (stdout and stderr together) and its exit status.
struct command_result {
    int code = -1;
    std::string output;
};

/// Runs `command` through the shell, bounded by `timeout` (coreutils), and collects it.
inline command_result run_command(const std::string& command, int timeout_seconds = 20) {
    const std::string full =
        "timeout -s KILL " + std::to_string(timeout_seconds) + " " + command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    if (pipe == nullptr) {
        throw std::runtime_error("popen failed: " + command);
    }
    command_result r;
    char buf[4096];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) {
        r.output.append(buf, n);
    }
    const int status = pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

/// A key pair made by `openssl genpkey`: `RSA` (2048 bits) or `EC` (P-256), in files named
/// after `name`.
struct key_pair {
    std::string private_pem;
    std::filesystem::path public_file;
};

inline key_pair make_key_pair(const temp_dir& dir, std::string_view kind, std::string_view name) {
    const auto priv = dir.path() / (std::string(name) + "-private.pem");
    const auto pub = dir.path() / (std::string(name) + "-public.pem");
    const std::string option =
        kind == "RSA" ? "-pkeyopt rsa_keygen_bits:2048" : "-pkeyopt ec_paramgen_curve:P-256";
    auto made = run_command("openssl genpkey -algorithm " + std::string(kind) + " " + option +
                            " -out " + priv.string() + " && openssl pkey -in " + priv.string() +
                            " -pubout -out " + pub.string());
    if (made.code != 0) {
        throw std::runtime_error("openssl failed: " + made.output);
    }
    return {read_file(priv), pub};
}

/// `Authorization: Bearer TOKEN` as request options.
inline request_options bearer(const std::string& token) {
    request_options o;
    o.headers.emplace_back("Authorization", "Bearer " + token);
    return o;
}

/// The value of one sample line of /metrics (`name{labels}` as written), or -1.
inline long long metric_value(const std::string& text, std::string_view sample) {
    std::size_t at = 0;
    while ((at = text.find(sample, at)) != std::string::npos) {
        const bool line_start = at == 0 || text[at - 1] == '\n';
        const std::size_t after_name = at + sample.size();
        if (line_start && after_name < text.size() && text[after_name] == ' ') {
            return std::stoll(text.substr(after_name + 1));
        }
        at = after_name;
    }
    return -1;
}

} // namespace ssehub::test
