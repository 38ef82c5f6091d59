// Streaming bodies, for payloads too large to hold in memory: a request body read chunk by chunk
// as it arrives (routes added with Router::AddStreaming), and a response body produced chunk by
// chunk (HttpResponse::body_source). Both are used on the connection's I/O thread only; neither
// is thread-safe. The transport owns the reader; the handler owns the source.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"

namespace parley::transport {

class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads the next bytes of the request body into `out` (at least one unless the body has
  // ended) and returns how many; 0 means the whole body has been read. Errors, after which
  // every further call fails too and the connection is closed once the response is written:
  // kPayloadTooLarge once the body passes the route's limit; kInvalidArgument when the body is
  // malformed (bad chunked encoding), ends early, or stalls past the request timeout.
  virtual boost::asio::awaitable<Result<size_t>> Read(std::span<char> out) = 0;
  // The Content-Length the client declared, if any (a chunked body has none). Already checked
  // against the route's limit.
  virtual std::optional<uint64_t> declared_length() const = 0;
};

class BodySource {
 public:
  virtual ~BodySource() = default;
  // Produces the next bytes of the response body into `out` and returns how many (at most
  // out.size()); 0 means no more. The transport asks for exactly HttpResponse::body_size bytes
  // in all; an error or an early 0 aborts the response and closes the connection (the client
  // sees a body shorter than its Content-Length).
  virtual boost::asio::awaitable<Result<size_t>> Read(std::span<char> out) = 0;
};

}  // namespace parley::transport
