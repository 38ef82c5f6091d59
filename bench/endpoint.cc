#include "endpoint.h"

#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>

namespace parley::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<Endpoint> ResolveLoopback(const std::string& url) {
  const std::string full = url.find("://") == std::string::npos ? "http://" + url : url;
  auto parsed = boost::urls::parse_uri(full);
  if (!parsed) return Error{ExitCode::kUsage, "--url: cannot parse '" + url + "'"};
  if (parsed->scheme() != "http") {
    return Error{ExitCode::kUsage, "--url: only http:// is supported (the bench targets loopback)"};
  }
  Endpoint ep;
  ep.host = std::string(parsed->host_address());
  if (!parsed->path().empty() && parsed->path() != "/") {
    return Error{ExitCode::kUsage, "--url: give only scheme, host and port, not a path"};
  }
  ep.port = parsed->has_port() ? parsed->port_number() : 80;
  if (ep.host.empty() || ep.port == 0) return Error{ExitCode::kUsage, "--url: host and port needed"};

  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(ep.host, std::to_string(ep.port), ec);
  if (ec || results.empty()) {
    return Error{ExitCode::kUsage, "--url: cannot resolve '" + ep.host + "': " + ec.message()};
  }
  for (const auto& r : results) {
    if (!r.endpoint().address().is_loopback()) {
      return Error{ExitCode::kUsage, "--url: '" + ep.host + "' resolves to " +
                                         r.endpoint().address().to_string() +
                                         ", which is not loopback; parley-bench only targets "
                                         "127.0.0.0/8 or ::1"};
    }
  }
  ep.address = results.begin()->endpoint();
  return ep;
}

}  // namespace parley::bench
