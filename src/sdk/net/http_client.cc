#include "sdk/net/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <filesystem>
#include <limits>

#include "sdk/net/sync_op.h"

namespace parley::sdk::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using detail::RunOp;

std::string HttpResponse::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

Error NetError(std::string_view what, const beast::error_code& ec) {
  std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
  return MakeError(ErrorCode::kUnavailable, std::string(what) + ": " + why);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

template <typename Fields>
void SetCommon(Fields& f, const BaseUrl& base, const HttpRequestSpec& spec) {
  f.set(http::field::host, base.HostHeader());
  f.set(http::field::user_agent, "parley-sdk/1");
  for (const auto& [k, v] : spec.headers) f.set(k, v);
}

// Writes a request with a serializer, one deadline per chunk.
template <typename Request>
beast::error_code WriteRequest(asio::io_context& ioc, beast::tcp_stream& stream, Request& req,
                               std::chrono::milliseconds timeout) {
  http::request_serializer<typename Request::body_type> sr{req};
  while (!sr.is_done()) {
    stream.expires_after(timeout);
    auto ec = RunOp(ioc, [&](auto h) { http::async_write_some(stream, sr, std::move(h)); });
    if (ec) return ec;
  }
  return {};
}

// Reads the rest of a message whose header `p` has already read, one deadline per chunk.
template <typename Parser>
beast::error_code ReadBody(asio::io_context& ioc, beast::tcp_stream& stream,
                           beast::flat_buffer& buf, Parser& p, std::chrono::milliseconds timeout) {
  while (!p.is_done()) {
    stream.expires_after(timeout);
    auto ec = RunOp(ioc, [&](auto h) { http::async_read_some(stream, buf, p, std::move(h)); });
    if (ec) return ec;
  }
  return {};
}

}  // namespace

Result<HttpResponse> HttpClient::Do(const HttpRequestSpec& spec) const {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  asio::ip::tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(base_.host, base_.port, ec);
  if (ec) return NetError("cannot resolve " + base_.host, ec);
  stream.expires_after(opts_.connect_timeout);
  ec = RunOp(ioc, [&](auto h) { stream.async_connect(endpoints, std::move(h)); });
  if (ec) return NetError("cannot connect to " + base_.HostHeader(), ec);

  const std::string target = base_.Target(spec.target);
  beast::error_code write_ec;
  if (!spec.body_file.empty()) {
    http::request<http::file_body> req{http::string_to_verb(spec.method), target, 11};
    SetCommon(req, base_, spec);
    req.keep_alive(false);
    req.body().open(spec.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) return MakeError(ErrorCode::kInvalidArgument, "cannot read " + spec.body_file);
    req.prepare_payload();
    write_ec = WriteRequest(ioc, stream, req, opts_.io_timeout);
  } else {
    http::request<http::string_body> req{http::string_to_verb(spec.method), target, 11};
    SetCommon(req, base_, spec);
    req.keep_alive(false);
    req.body() = spec.body;
    if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT") req.prepare_payload();
    write_ec = WriteRequest(ioc, stream, req, opts_.io_timeout);
  }
  // A server may answer early (413) and stop reading: still try to read its answer.

  beast::flat_buffer buf;
  http::response_parser<http::empty_body> head;
  head.header_limit(static_cast<uint32_t>(opts_.max_header));
  stream.expires_after(opts_.io_timeout);
  ec = RunOp(ioc, [&](auto h) { http::async_read_header(stream, buf, head, std::move(h)); });
  if (ec) return NetError(write_ec ? "sending the request" : "reading the response",
                          write_ec ? write_ec : ec);

  HttpResponse out;
  out.status = static_cast<int>(head.get().result_int());
  for (const auto& f : head.get()) out.headers[Lower(f.name_string())] = std::string(f.value());

  if (!spec.response_file.empty() && out.status / 100 == 2) {
    http::response_parser<http::file_body> p{std::move(head)};
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    const std::string part = spec.response_file + ".part";
    p.get().body().open(part.c_str(), beast::file_mode::write, ec);
    if (ec) return MakeError(ErrorCode::kInvalidArgument, "cannot write " + part);
    ec = ReadBody(ioc, stream, buf, p, opts_.io_timeout);
    p.get().body().close();
    if (ec) {
      std::remove(part.c_str());
      return NetError("reading the download", ec);
    }
    if (std::rename(part.c_str(), spec.response_file.c_str()) != 0) {
      std::remove(part.c_str());
      return MakeError(ErrorCode::kInvalidArgument, "cannot write " + spec.response_file);
    }
    std::error_code fs_ec;
    out.body_bytes = std::filesystem::file_size(spec.response_file, fs_ec);
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return out;
  }

  http::response_parser<http::string_body> p{std::move(head)};
  p.body_limit(opts_.max_response_body);
  ec = ReadBody(ioc, stream, buf, p, opts_.io_timeout);
  if (ec) return NetError("reading the response body", ec);
  out.body = std::move(p.get().body());
  out.body_bytes = out.body.size();
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace parley::sdk::net
