// Which browser pages may open /v1/ws. A WebSocket upgrade is not covered by the same-origin
// policy, so without this any site a user visits could open a socket with the user's
// `?access_token=` (cross-site WebSocket hijacking) — or with cookies, should they ever be used.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::services {

// True for a request without an Origin header (native clients), a same-origin browser request
// (the Origin's host[:port] equals the Host header, default ports ignored), or an Origin listed
// in `allowed` ("scheme://host[:port]", compared case-insensitively; "*" allows every origin).
// An Origin that is not an http(s) origin ("null", garbage) is allowed only by "*".
bool WsOriginAllowed(std::optional<std::string_view> origin, std::string_view host,
                     const std::vector<std::string>& allowed);

}  // namespace parley::services
