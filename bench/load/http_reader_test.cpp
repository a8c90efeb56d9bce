// SPDX-License-Identifier: Apache-2.0
#include "http_reader.hpp"

#include <gtest/gtest.h>
#include <string>

namespace ssehub::bench {
namespace {

struct read_result {
    response_reader::state state;
    int status = 0;
    std::string body;
    std::size_t used = 0;
};

// Feeds `wire` in pieces of at most `piece` bytes until the response ends.
read_result read_in_pieces(std::string_view wire, std::size_t piece) {
    response_reader reader;
    read_result out;
    const auto on_body = [&out](std::string_view b) {
        out.body.append(b);
    };
    while (!wire.empty()) {
        const auto chunk = wire.substr(0, piece);
        const std::size_t used = reader.feed(chunk, on_body);
        out.used += used;
        wire.remove_prefix(used);
        if (used < chunk.size()) {
            break;
        }
    }
    out.state = reader.current();
    out.status = reader.status();
    return out;
}

TEST(ResponseReaderTest, ChunkedBodyCutAtEveryByte) {
    const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\nA;ext=1\r\n, world!!!\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    for (std::size_t piece = 1; piece <= wire.size(); ++piece) {
        const auto r = read_in_pieces(wire, piece);
        EXPECT_EQ(r.state, response_reader::state::done) << "piece " << piece;
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello, world!!!") << "piece " << piece;
        EXPECT_EQ(r.used, wire.size() - 4) << "the next response starts at NEXT";
    }
}

TEST(ResponseReaderTest, ContentLengthEndsTheResponse) {
    const std::string wire = "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1";
    for (std::size_t piece = 1; piece <= wire.size(); ++piece) {
        const auto r = read_in_pieces(wire, piece);
        EXPECT_EQ(r.state, response_reader::state::done);
        EXPECT_EQ(r.status, 202);
        EXPECT_EQ(r.body, "{}");
        EXPECT_EQ(r.used, wire.size() - 8);
    }
}

TEST(ResponseReaderTest, UnframedStreamRunsUntilClose) {
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                             "retry:2000\n\ndata:1\n\n";
    const auto r = read_in_pieces(wire, 7);
    EXPECT_EQ(r.state, response_reader::state::until_close);
    EXPECT_EQ(r.body, "retry:2000\n\ndata:1\n\n");
}

TEST(ResponseReaderTest, RejectsWhatIsNotHttp) {
    EXPECT_EQ(read_in_pieces("SSH-2.0-OpenSSH\r\n\r\n", 64).state, response_reader::state::failed);
    EXPECT_EQ(
        read_in_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 64).state,
        response_reader::state::failed);
}

TEST(ResponseReaderTest, ResetReadsTheNextResponse) {
    response_reader reader;
    std::string body;
    const auto on_body = [&body](std::string_view b) {
        body.append(b);
    };
    const std::string one = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
    EXPECT_EQ(reader.feed(one, on_body), one.size());
    EXPECT_EQ(reader.current(), response_reader::state::done);
    reader.reset();
    const std::string two = "HTTP/1.1 429 Too Many\r\nContent-Length: 1\r\n\r\nb";
    EXPECT_EQ(reader.feed(two, on_body), two.size());
    EXPECT_EQ(reader.status(), 429);
    EXPECT_EQ(body, "ab");
}

} // namespace
} // namespace ssehub::bench
