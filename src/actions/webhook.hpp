// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <ssehub/error.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::actions {

/// The `[webhooks]` settings of DESIGN.md section 9, plus the bounds the hub applies to
/// outgoing calls.
struct webhook_options {
    std::vector<std::string> allow;           ///< webhooks.allow: URL prefixes
    std::chrono::milliseconds timeout{5'000}; ///< webhooks.timeout: one attempt, all steps
    std::size_t retries = 3;                  ///< webhooks.retries: attempts after the first
    std::string secret;                       ///< webhooks.secret: HMAC-SHA256 key, or none
    std::chrono::milliseconds backoff{200};   ///< before retry n: backoff * 2^(n-1)
    std::size_t queue_limit = 10'000;         ///< calls waiting or under way; past it, dropped
    std::size_t concurrency = 32;             ///< calls under way at once
    std::string ca_file; ///< webhooks.ca_file: PEM CAs for https://; empty: the system's store
};

/// Counters of outgoing webhook calls, read by /metrics. Relaxed atomics.
struct webhook_stats {
    std::atomic<std::uint64_t> sent{0};    ///< calls a receiver answered with 2xx
    std::atomic<std::uint64_t> failed{0};  ///< calls given up after their last attempt
    std::atomic<std::uint64_t> retries{0}; ///< attempts after a first one failed
    std::atomic<std::uint64_t> dropped{0}; ///< calls refused because the queue was full
    std::atomic<std::uint64_t> queued{0};  ///< calls waiting or under way now
};

/// The signature header a receiver checks: `sha256=` and the lowercase hex HMAC-SHA256 of
/// the body under webhooks.secret.
inline constexpr std::string_view signature_header = "X-Ssehub-Signature";

/// `sha256=<hex>` for `body` under `secret`.
std::string webhook_signature(std::string_view secret, std::string_view body);

/// True when `url` lies under one of the prefixes of `allow`. A prefix that does not end
/// in `/` matches only up to a boundary (`/`, `?`, `#` or the end), so the prefix
/// `http://127.0.0.1:9000` never admits `http://127.0.0.1:90001/`.
bool webhook_allowed(std::string_view url, const std::vector<std::string>& allow);

/// Checks a rendered webhook URL: absolute, http:// or https://, with a host, on the
/// allow-list. The error names `path`.
result<void> check_webhook_url(std::string_view url, const std::vector<std::string>& allow,
                               const std::string& path);

/// Posts JSON bodies to webhook URLs with Beast, on one io_context: a bounded queue, at
/// most `concurrency` calls at once, a timeout per attempt, and retries with exponential
/// backoff on connection errors, timeouts, 408, 429 and 5xx. https:// receivers are reached
/// over TLS (OpenSSL), their certificate verified against `ca_file` or the system's store
/// and matched to the URL's host; a receiver that fails the check is never sent the body.
///
/// Thread model: post() may be called from any thread; everything else happens on the
/// io_context's thread. The io_context must outlive the sender, and the sender must
/// outlive every handler it queued on it (destroy the io_context's handlers first, or let
/// run() return).
class webhook_sender {
public:
    webhook_sender(boost::asio::io_context& ioc, webhook_options options);
    ~webhook_sender();
    webhook_sender(const webhook_sender&) = delete;
    webhook_sender& operator=(const webhook_sender&) = delete;

    /// Queues one POST of `body` to `url` (already checked by check_webhook_url). `what`
    /// names the call in log lines (`session=s1 action=disconnected[0]`). Never blocks.
    /// Returns false, counting the drop, when the queue is full.
    bool post(std::string url, std::string body, std::string what);

    const webhook_options& options() const noexcept { return options_; }

    const webhook_stats& stats() const noexcept { return stats_; }

private:
    struct call;
    friend struct call;

    void start_next();
    void finished(const call& c, bool ok, const std::string& why);

    boost::asio::io_context& ioc_;
    webhook_options options_;
    webhook_stats stats_;

    // The TLS client settings of https:// calls (an ssl::context, kept opaque here), made
    // once; `tls_error_` says why https:// calls fail when the CA file could not be loaded.
    std::shared_ptr<void> tls_;
    std::string tls_error_;

    // Only on the io_context's thread.
    std::deque<std::shared_ptr<call>> waiting_;
    std::size_t active_ = 0;
};

} // namespace ssehub::actions
