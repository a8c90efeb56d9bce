// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/connection_limiter.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>

namespace ssehub::http {

class server;
class worker;

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

/// One client connection while it speaks plain HTTP: reads requests (bounded in size and
/// time), answers control calls with keep-alive, and, when a request opens a stream, hands
/// the socket to an sse_connection and goes away with its buffers and parser.
///
/// Time: between requests the connection may stay idle for server.request_timeout, then it
/// is closed without a word. From the first byte of a request, its head has
/// limits.head_timeout and the whole request server.request_timeout; past either the client
/// gets 408 with a JSON error and the connection closes (slow heads and trickled bodies).
class http_session : public std::enable_shared_from_this<http_session> {
public:
    /// `remote` names the client in logs and limits; empty: the socket's peer address.
    http_session(boost::asio::ip::tcp::socket socket, connection_limiter::slot slot, server& srv,
                 worker& owner, std::string remote = {});

    void run();

private:
    void read_request();
    void wait_first_byte();
    void read_head();
    void read_head_some();
    void on_head(const boost::beast::error_code& ec);
    void arm(std::chrono::steady_clock::duration timeout);
    void refuse_slow(std::string_view part);
    void on_read(const boost::beast::error_code& ec);
    void handle(request& req);
    void open_stream(request& req);
    void send(response res, bool close_after);
    void on_sent(const boost::beast::error_code& ec, bool close_after);
    void close();
    void drain();

    boost::beast::tcp_stream stream_;
    connection_limiter::slot slot_;
    server& server_;
    worker& worker_;
    std::string remote_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    std::shared_ptr<response> pending_;  ///< the response being written
    boost::asio::steady_timer deadline_; ///< idle, head and body time of the current request
    std::chrono::steady_clock::time_point started_; ///< first byte of the current request
    bool timed_out_ = false;     ///< deadline_ fired and cancelled the read under way
    std::size_t head_bytes_ = 0; ///< bytes of the current request's head parsed so far
};

} // namespace ssehub::http
