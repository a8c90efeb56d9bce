// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ssehub::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

#ifndef SSEHUB_BIN
#define SSEHUB_BIN "ssehub"
#endif
#ifndef SSEHUB_SHARED_DIR
#define SSEHUB_SHARED_DIR "../shared"
#endif

/// `s` with control and non-ASCII bytes escaped, for failure messages.
std::string printable(std::string_view s) {
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c >= 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

/// The last `n` bytes of `s`, so that a failure message stays readable.
std::string tail(const std::string& s, std::size_t n = 8192) {
    if (s.size() <= n) {
        return s;
    }
    return "...\n" + s.substr(s.size() - n);
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

/// Drives `ioc` until `done` or the deadline; past the deadline it cancels `socket`'s
/// operations and waits for their handlers. True when `done` came before the deadline.
template <class Socket>
bool run_until(asio::io_context& ioc, Socket& socket, const bool& done,
               clock::time_point deadline) {
    ioc.restart();
    while (!done && clock::now() < deadline) {
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) {
            ioc.restart();
        }
    }
    if (done) {
        return true;
    }
    boost::system::error_code ignored;
    socket.cancel(ignored);
    ioc.restart();
    while (!done) {
        ioc.run_one();
    }
    return false;
}

} // namespace

std::string ssehub_binary() {
    if (const char* env = std::getenv("SSEHUB_BIN"); env != nullptr && *env != '\0') {
        return env;
    }
    return SSEHUB_BIN;
}

std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("SSEHUB_SHARED_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return SSEHUB_SHARED_DIR;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

std::string exit_status::describe() const {
    std::string s;
    if (exited) {
        s = "exit status " + std::to_string(code);
    } else if (signal != 0) {
        s = std::string("killed by signal ") + strsignal(signal);
    } else {
        s = "unknown ending";
    }
    if (killed) {
        s += " (still running at the SIGTERM deadline: sent SIGKILL)";
    }
    return s;
}

// ---------------------------------------------------------------------------------------
// server_process

server_process::server_process(std::vector<std::string> extra_args) {
    std::vector<std::string> args{ssehub_binary(), "serve", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    int err[2];
    int out[2];
    if (pipe2(err, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }

    // Between fork and exec the child calls only async-signal-safe functions.
    pid_ = fork();
    if (pid_ < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null_fd = open("/dev/null", O_RDONLY);
        dup2(null_fd, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(err[1]);
    close(out[1]);
    err_fd_ = err[0];
    out_fd_ = out[0];
    reader_ = std::thread([this] { collect(); });

    // Wait for a complete `listening ... address=HOST:PORT` line on stderr.
    std::optional<std::string> address;
    auto find_address = [&] {
        std::size_t start = 0;
        while (start < err_.size()) {
            std::size_t end = err_.find('\n', start);
            if (end == std::string::npos) {
                return false;
            }
            std::string_view line(err_.data() + start, end - start);
            std::size_t at = line.find("address=");
            if (line.find("listening") != std::string_view::npos && at != line.npos) {
                std::string_view rest = line.substr(at + 8);
                if (!rest.empty() && rest.front() == '"') {
                    rest.remove_prefix(1);
                }
                std::size_t stop = rest.find_first_of(" \t\r\"");
                address = std::string(rest.substr(0, stop));
                return true;
            }
            start = end + 1;
        }
        return false;
    };
    {
        std::unique_lock lock(mutex_);
        changed_.wait_until(lock, after(10s), [&] { return find_address() || err_eof_; });
    }

    std::size_t colon = address ? address->rfind(':') : std::string::npos;
    if (colon != std::string::npos) {
        host_ = address->substr(0, colon);
        port_ = static_cast<std::uint16_t>(std::atoi(address->c_str() + colon + 1));
    }
    if (port_ == 0) {
        exit_status st = stop(2s);
        throw std::runtime_error("ssehub (" + args[0] +
                                 ") did not log `listening address=HOST:PORT` within 10 s; " +
                                 st.describe() + "; its output:\n" + tail(output()));
    }
}

server_process::~server_process() {
    stop();
}

std::string server_process::address() const {
    return host_ + ":" + std::to_string(port_);
}

std::string server_process::output() const {
    std::lock_guard lock(mutex_);
    std::string s = "--- stderr\n" + err_;
    if (!out_.empty()) {
        s += "--- stdout\n" + out_;
    }
    return s;
}

void server_process::collect() {
    std::array<pollfd, 2> fds{pollfd{err_fd_, POLLIN, 0}, pollfd{out_fd_, POLLIN, 0}};
    std::array<char, 4096> buf{};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            ssize_t n = read(fds[i].fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            std::lock_guard lock(mutex_);
            if (n <= 0) {
                fds[i].fd = -1;
                --open_fds;
                if (i == 0) {
                    err_eof_ = true;
                }
            } else {
                (i == 0 ? err_ : out_).append(buf.data(), static_cast<std::size_t>(n));
            }
            changed_.notify_all();
        }
    }
}

exit_status server_process::stop(clock::duration deadline) {
    if (status_) {
        return *status_;
    }
    exit_status st;
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int wstatus = 0;
        pid_t done = 0;
        clock::time_point until = after(deadline);
        while ((done = waitpid(pid_, &wstatus, WNOHANG)) == 0 && clock::now() < until) {
            std::this_thread::sleep_for(5ms);
        }
        if (done == 0) {
            kill(pid_, SIGKILL);
            st.killed = true;
            done = waitpid(pid_, &wstatus, 0);
        }
        if (done == pid_ && WIFEXITED(wstatus)) {
            st.exited = true;
            st.code = WEXITSTATUS(wstatus);
        } else if (done == pid_ && WIFSIGNALED(wstatus)) {
            st.signal = WTERMSIG(wstatus);
        }
    }
    if (reader_.joinable()) {
        reader_.join();
    }
    if (err_fd_ >= 0) {
        close(err_fd_);
        err_fd_ = -1;
    }
    if (out_fd_ >= 0) {
        close(out_fd_);
        out_fd_ = -1;
    }
    status_ = st;
    return st;
}

// ---------------------------------------------------------------------------------------
// tcp_client

tcp_client::tcp_client(const std::string& host, std::uint16_t port, clock::duration timeout,
                       int receive_buffer)
    : socket_(ioc_) {
    tcp::endpoint endpoint(asio::ip::make_address(host), port);
    if (receive_buffer > 0) {
        // Before connecting, so the window the client announces is small from the start.
        socket_.open(endpoint.protocol());
        socket_.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    }
    bool done = false;
    boost::system::error_code ec;
    socket_.async_connect(endpoint, [&](boost::system::error_code e) {
        ec = e;
        done = true;
    });
    if (!run_until(ioc_, socket_, done, after(timeout)) || ec) {
        throw std::runtime_error("connect to " + host + ":" + std::to_string(port) + ": " +
                                 (ec ? ec.message() : std::string("timed out")));
    }
    socket_.set_option(tcp::no_delay(true));
}

tcp_client::~tcp_client() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

bool tcp_client::send(std::string_view bytes, clock::duration timeout) {
    bool done = false;
    boost::system::error_code ec;
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [&](boost::system::error_code e, std::size_t) {
                          ec = e;
                          done = true;
                      });
    return run_until(ioc_, socket_, done, after(timeout)) && !ec;
}

bool tcp_client::read_some(clock::time_point deadline) {
    if (closed_ || !socket_.is_open()) {
        return false;
    }
    std::array<char, 16384> buf{};
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    socket_.async_read_some(asio::buffer(buf), [&](boost::system::error_code e, std::size_t k) {
        ec = e;
        n = k;
        done = true;
    });
    run_until(ioc_, socket_, done, deadline);
    if (n > 0) {
        received_.append(buf.data(), n);
        arrivals_.push_back(chunk{clock::now(), received_.size()});
    }
    if (ec && ec != asio::error::operation_aborted) {
        closed_ = true;
    }
    return n > 0;
}

std::size_t tcp_client::read_until(std::string_view needle, clock::time_point deadline,
                                   std::size_t from) {
    for (;;) {
        std::size_t at = received_.find(needle, from);
        if (at != std::string::npos) {
            return at;
        }
        if (closed_ || clock::now() >= deadline) {
            return std::string::npos;
        }
        read_some(deadline);
    }
}

bool tcp_client::read_at_least(std::size_t n, clock::time_point deadline) {
    while (received_.size() < n) {
        if (closed_ || clock::now() >= deadline) {
            return false;
        }
        read_some(deadline);
    }
    return true;
}

bool tcp_client::read_until_closed(clock::time_point deadline) {
    while (!closed_) {
        if (clock::now() >= deadline) {
            return false;
        }
        read_some(deadline);
    }
    return true;
}

clock::time_point tcp_client::arrival(std::size_t offset) const {
    auto it = std::upper_bound(arrivals_.begin(), arrivals_.end(), offset,
                               [](std::size_t o, const chunk& c) { return o < c.end; });
    return it == arrivals_.end() ? clock::time_point::max() : it->at;
}

void tcp_client::close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void tcp_client::reset() {
    boost::system::error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
}

// ---------------------------------------------------------------------------------------
// HTTP

std::optional<std::string> find_header(const header_list& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return std::nullopt;
}

std::size_t count_header(const header_list& headers, std::string_view name) {
    return static_cast<std::size_t>(std::count_if(
        headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

json::value http_response::json() const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) {
        ADD_FAILURE() << "response body is not JSON (" << ec.message() << "): " << printable(body);
        return nullptr;
    }
    return v;
}

struct http_client::impl {
    asio::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
    std::string host;
    std::uint16_t port;
    bool connected = false;

    void connect() {
        stream.expires_after(5s);
        bool done = false;
        boost::system::error_code ec;
        stream.async_connect(tcp::endpoint(asio::ip::make_address(host), port),
                             [&](boost::system::error_code e) {
                                 ec = e;
                                 done = true;
                             });
        ioc.restart();
        while (!done) {
            ioc.run_one();
        }
        if (ec) {
            throw std::runtime_error("connect to " + host + ":" + std::to_string(port) + ": " +
                                     ec.message());
        }
        stream.socket().set_option(tcp::no_delay(true));
        buffer.clear();
        connected = true;
    }

    void disconnect() {
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.close();
        connected = false;
    }
};

http_client::http_client(const std::string& host, std::uint16_t port)
    : impl_(std::make_unique<impl>()) {
    impl_->host = host;
    impl_->port = port;
}

http_client::~http_client() = default;

http_response http_client::request(std::string_view method, std::string_view target,
                                   std::string_view body, const request_options& options) {
    impl& s = *impl_;
    if (!s.connected) {
        s.connect();
    }

    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, s.host + ":" + std::to_string(s.port));
    req.set(http::field::user_agent, "ssehub-integration-tests");
    if (!body.empty() || method == "POST" || method == "PUT") {
        req.set(http::field::content_type, options.content_type);
        req.body() = std::string(body);
    }
    for (const auto& [k, v] : options.headers) {
        req.set(k, v);
    }
    req.prepare_payload();

    // Write and read at once: the server may answer (413) before it has read the body.
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    bool wrote = false;
    bool read = false;
    boost::system::error_code write_ec;
    boost::system::error_code read_ec;
    s.stream.expires_after(options.timeout);
    http::async_write(s.stream, req, [&](boost::system::error_code e, std::size_t) {
        write_ec = e;
        wrote = true;
    });
    http::async_read(s.stream, s.buffer, parser, [&](boost::system::error_code e, std::size_t) {
        read_ec = e;
        read = true;
    });
    s.ioc.restart();
    while (!read) {
        s.ioc.run_one();
    }
    if (!wrote) {
        s.stream.cancel();
        while (!wrote) {
            s.ioc.run_one();
        }
    }
    if (read_ec) {
        s.disconnect();
        throw std::runtime_error(std::string(method) + " " + std::string(target) +
                                 ": no complete response: " + read_ec.message());
    }

    auto& res = parser.get();
    http_response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (write_ec || !res.keep_alive()) {
        s.disconnect();
    }
    return out;
}

http_response http_request(const server_process& hub, std::string_view method,
                           std::string_view target, std::string_view body,
                           const request_options& options) {
    http_client client(hub);
    return client.request(method, target, body, options);
}

// ---------------------------------------------------------------------------------------
// sse_stream

sse_stream::sse_stream(const server_process& hub, std::string target, subscribe_options options)
    : sse_stream(hub.host(), hub.port(), std::move(target), std::move(options)) {}

sse_stream::sse_stream(const std::string& host, std::uint16_t port, std::string target,
                       subscribe_options options)
    : socket_(host, port, 5s, options.receive_buffer) {
    std::string req = options.method + " " + target + " HTTP/1.1\r\n";
    req += "Host: " + host + ":" + std::to_string(port) + "\r\n";
    req += "Accept: text/event-stream\r\n";
    for (const auto& [k, v] : options.headers) {
        req += k + ": " + v + "\r\n";
    }
    if (options.method != "GET" || !options.body.empty()) {
        req += "Content-Type: " + options.content_type + "\r\n";
        req += "Content-Length: " + std::to_string(options.body.size()) + "\r\n";
    }
    req += "\r\n";
    req += options.body;
    sent_at_ = clock::now();
    if (!socket_.send(req)) {
        throw std::runtime_error("could not send the subscription " + target);
    }
}

bool sse_stream::pump(clock::time_point deadline) {
    bool got = socket_.read_some(deadline);
    decode();
    return got;
}

bool sse_stream::read_head(clock::time_point deadline) {
    while (!have_head_) {
        if (socket_.closed() || clock::now() >= deadline) {
            return false;
        }
        pump(deadline);
    }
    return true;
}

void sse_stream::decode() {
    const std::string& raw = socket_.received();

    if (!have_head_) {
        std::size_t end = raw.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (socket_.closed()) {
                ended_ = true;
            }
            return;
        }
        head_.raw = raw.substr(0, end + 4);
        std::size_t line_end = raw.find("\r\n");
        head_.status_line = raw.substr(0, line_end);
        if (head_.status_line.size() >= 12) {
            head_.status = std::atoi(head_.status_line.c_str() + 9);
        }
        std::size_t pos = line_end + 2;
        while (pos < end) {
            std::size_t eol = raw.find("\r\n", pos);
            std::string_view line(raw.data() + pos, eol - pos);
            std::size_t colon = line.find(':');
            if (colon != std::string_view::npos) {
                head_.headers.emplace_back(std::string(line.substr(0, colon)),
                                           std::string(trim(line.substr(colon + 1))));
            }
            pos = eol + 2;
        }
        have_head_ = true;
        raw_pos_ = end + 4;
        auto te = head_.header("Transfer-Encoding");
        chunked_ = te && te->find("chunked") != std::string::npos;
        if (auto cl = head_.header("Content-Length"); cl && !chunked_) {
            content_length_ = static_cast<std::size_t>(std::stoull(*cl));
        }
    }

    auto take = [&](std::size_t n) {
        body_.append(raw, raw_pos_, n);
        raw_pos_ += n;
        body_arrivals_.push_back(piece{socket_.arrival(raw_pos_ - 1), body_.size()});
    };

    while (!ended_ && raw_pos_ < raw.size()) {
        if (!chunked_) {
            std::size_t n = raw.size() - raw_pos_;
            if (content_length_) {
                n = std::min(n, *content_length_ - std::min(*content_length_, body_.size()));
            }
            if (n > 0) {
                take(n);
            }
            if (content_length_ && body_.size() >= *content_length_) {
                ended_ = true;
            }
            break;
        }
        if (state_ == chunk_state::size || state_ == chunk_state::trailer) {
            std::size_t eol = raw.find("\r\n", raw_pos_);
            if (eol == std::string::npos) {
                break;
            }
            std::string line = raw.substr(raw_pos_, eol - raw_pos_);
            raw_pos_ = eol + 2;
            if (state_ == chunk_state::trailer) {
                if (line.empty()) {
                    state_ = chunk_state::done;
                    ended_ = true;
                }
                continue;
            }
            std::string hex = line.substr(0, line.find(';'));
            char* end = nullptr;
            unsigned long long size = std::strtoull(hex.c_str(), &end, 16);
            if (hex.empty() || end == nullptr || *end != '\0') {
                framing_error_ = true;
                ended_ = true;
                break;
            }
            if (size == 0) {
                state_ = chunk_state::trailer;
            } else {
                chunk_left_ = static_cast<std::size_t>(size);
                state_ = chunk_state::data;
            }
        } else if (state_ == chunk_state::data) {
            std::size_t n = std::min(chunk_left_, raw.size() - raw_pos_);
            take(n);
            chunk_left_ -= n;
            if (chunk_left_ == 0) {
                state_ = chunk_state::data_crlf;
            }
        } else if (state_ == chunk_state::data_crlf) {
            if (raw.size() - raw_pos_ < 2) {
                break;
            }
            if (raw.compare(raw_pos_, 2, "\r\n") != 0) {
                framing_error_ = true;
                ended_ = true;
                break;
            }
            raw_pos_ += 2;
            state_ = chunk_state::size;
        } else {
            break;
        }
    }
    if (socket_.closed()) {
        ended_ = true;
    }
}

clock::time_point sse_stream::body_arrival(std::size_t offset) const {
    auto it = std::upper_bound(body_arrivals_.begin(), body_arrivals_.end(), offset,
                               [](std::size_t o, const piece& p) { return o < p.end; });
    return it == body_arrivals_.end() ? clock::time_point::max() : it->at;
}

bool sse_stream::read_body(std::size_t n, clock::time_point deadline) {
    while (body_.size() < n) {
        if (ended_ || clock::now() >= deadline) {
            return false;
        }
        pump(deadline);
    }
    return true;
}

bool sse_stream::read_complete_body(clock::time_point deadline) {
    return wait_closed(deadline);
}

std::optional<sse_frame> sse_stream::next_frame(clock::time_point deadline) {
    for (;;) {
        std::size_t end = body_.find("\n\n", frame_pos_);
        if (end != std::string::npos) {
            std::string raw = body_.substr(frame_pos_, end + 2 - frame_pos_);
            clock::time_point at = body_arrival(end + 1);
            frame_pos_ = end + 2;
            return parse_frame(std::move(raw), at);
        }
        if (ended_ || clock::now() >= deadline) {
            return std::nullopt;
        }
        pump(deadline);
    }
}

std::optional<sse_frame> sse_stream::next_event(clock::time_point deadline) {
    for (;;) {
        auto frame = next_frame(deadline);
        if (!frame || frame->is_event()) {
            return frame;
        }
        skipped_.push_back(std::move(*frame));
    }
}

bool sse_stream::wait_closed(clock::time_point deadline) {
    while (!ended_) {
        if (clock::now() >= deadline) {
            return false;
        }
        pump(deadline);
    }
    return true;
}

sse_frame parse_frame(std::string raw, clock::time_point at) {
    sse_frame f;
    f.at = at;
    bool only_comments = true;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        std::size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) {
            eol = raw.size();
        }
        std::string line = raw.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty()) {
            continue;
        }
        f.lines.push_back(line);
        if (line.front() == ':') {
            continue;
        }
        only_comments = false;
        std::size_t colon = line.find(':');
        std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (field == "event") {
            f.event = value;
        } else if (field == "id") {
            f.id = value;
        } else if (field == "data") {
            if (f.data_lines++ > 0) {
                f.data += '\n';
            }
            f.data += value;
        } else if (field == "retry") {
            f.retry = value;
        }
    }
    f.comment_only = only_comments && !f.lines.empty();
    f.raw = std::move(raw);
    return f;
}

json::value sse_frame::json() const {
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    return ec ? json::value(nullptr) : v;
}

// ---------------------------------------------------------------------------------------
// helpers

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

json::value pin(std::string_view element, json::value properties) {
    return json::object{{"library", "@digipair/skill-sse"},
                        {"element", element},
                        {"properties", std::move(properties)}};
}

std::string to_json(const json::value& v) {
    return json::serialize(v);
}

namespace {

::testing::AssertionResult check_error_body(int status, const std::optional<std::string>& type,
                                            const std::string& body, int expected_status,
                                            std::optional<std::string_view> path) {
    auto fail = [&]() {
        return ::testing::AssertionFailure()
               << "status " << status << ", content-type " << type.value_or("(none)") << ", body "
               << printable(body) << ": ";
    };
    if (status != expected_status) {
        return fail() << "expected status " << expected_status;
    }
    if (!type || type->find("application/json") == std::string::npos) {
        return fail() << "expected an application/json body";
    }
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error") ||
        !v.as_object().at("error").is_object()) {
        return fail() << "expected {\"error\":{...}}";
    }
    const json::object& e = v.as_object().at("error").as_object();
    for (const char* key : {"code", "message", "path"}) {
        if (!e.contains(key) || !e.at(key).is_string()) {
            return fail() << "error." << key << " is missing or not a string";
        }
    }
    if (e.at("code").as_string().empty() || e.at("message").as_string().empty()) {
        return fail() << "error.code and error.message must not be empty";
    }
    if (path && e.at("path").as_string() != *path) {
        return fail() << "expected error.path \"" << *path << "\"";
    }
    return ::testing::AssertionSuccess();
}

} // namespace

::testing::AssertionResult is_json_error(const http_response& response, int status,
                                         std::optional<std::string_view> path) {
    return check_error_body(response.status, response.header("Content-Type"), response.body, status,
                            path);
}

::testing::AssertionResult is_json_error(const response_head& head, const std::string& body,
                                         int status, std::optional<std::string_view> path) {
    return check_error_body(head.status, head.header("Content-Type"), body, status, path);
}

::testing::AssertionResult is_event(const sse_frame& frame, std::string_view name,
                                    std::string_view data) {
    if (!frame.id || frame.id->empty()) {
        return ::testing::AssertionFailure() << "no id: in " << printable(frame.raw);
    }
    for (char ch : *frame.id) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80 || c == '\r' || c == '\n' || c == '\0') {
            return ::testing::AssertionFailure()
                   << "id is not plain ASCII: " << printable(*frame.id);
        }
    }
    std::string expected =
        "event:" + std::string(name) + "\nid:" + *frame.id + "\ndata:" + std::string(data) + "\n\n";
    if (frame.raw != expected) {
        return ::testing::AssertionFailure()
               << "\n  expected " << printable(expected) << "\n  received " << printable(frame.raw);
    }
    return ::testing::AssertionSuccess();
}

bool mentions(const json::value& v, std::string_view s) {
    switch (v.kind()) {
    case json::kind::string:
        return v.get_string() == s;
    case json::kind::array:
        return std::any_of(v.get_array().begin(), v.get_array().end(),
                           [&](const json::value& e) { return mentions(e, s); });
    case json::kind::object:
        return std::any_of(v.get_object().begin(), v.get_object().end(),
                           [&](const json::key_value_pair& kv) { return mentions(kv.value(), s); });
    default:
        return false;
    }
}

bool is_strict_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + n >= s.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// hub_test

server_process& hub_test::start(std::vector<std::string> extra_args) {
    hub_ = std::make_unique<server_process>(std::move(extra_args));
    return *hub_;
}

void hub_test::TearDown() {
    if (!hub_) {
        return;
    }
    exit_status st = hub_->stop();
    EXPECT_TRUE(st.clean()) << "ssehub ended with " << st.describe();
    if (HasFailure()) {
        std::cerr << "ssehub output (" << hub_->address() << "):\n" << tail(hub_->output()) << "\n";
    }
}

http_response hub_test::actions(const json::value& document) {
    return http_request(hub(), "POST", "/api/v1/actions", to_json(document));
}

std::unique_ptr<sse_stream> hub_test::subscribe(std::string target, subscribe_options options) {
    auto stream = std::make_unique<sse_stream>(hub(), target, std::move(options));
    EXPECT_TRUE(stream->read_head(after(5s))) << target << ": no response head";
    EXPECT_EQ(stream->head().status, 200) << target << ": " << stream->head().raw << "\n"
                                          << stream->body();
    if (stream->head().status == 200) {
        auto first = stream->next_frame(after(5s));
        EXPECT_TRUE(first && first->retry) << target << ": the stream did not start with retry:";
    }
    return stream;
}

long long metric(const server_process& hub, std::string_view name) {
    const auto text = http_request(hub, "GET", "/metrics").body;
    const std::string key = "\nssehub_" + std::string(name) + " ";
    const auto at = text.find(key);
    if (at == std::string::npos) {
        return -1;
    }
    return std::stoll(text.substr(at + key.size()));
}

std::size_t open_files(pid_t pid) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        ++n;
    }
    return n;
}

boost::json::value declared(std::string_view session) {
    namespace json = boost::json;
    return pin(
        "registerSession",
        {{"id", session},
         {"disconnected", json::array{json::object{{"type", "log"}, {"message", "ended"}}}}});
}

namespace {

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

} // namespace

std::size_t records(const server_process& hub, std::string_view session, std::string_view reason) {
    return occurrences(hub.output(),
                       "(session=" + std::string(session) + " reason=" + std::string(reason) + ")");
}

std::size_t records(const server_process& hub, std::string_view session) {
    return occurrences(hub.output(), "(session=" + std::string(session) + " reason=");
}

} // namespace ssehub::test
