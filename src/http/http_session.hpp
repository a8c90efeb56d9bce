// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/connection_limiter.hpp"

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
class http_session : public std::enable_shared_from_this<http_session> {
public:
    /// `remote` names the client in logs and limits; empty: the socket's peer address.
    http_session(boost::asio::ip::tcp::socket socket, connection_limiter::slot slot, server& srv,
                 worker& owner, std::string remote = {});

    void run();

private:
    void read_request();
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
    std::shared_ptr<response> pending_; ///< the response being written
};

} // namespace ssehub::http
