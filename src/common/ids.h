// Identifiers: UUID generation (v4 random, v7 time-ordered), validation and the deterministic id
// of a direct conversation. All ids are lowercase hyphenated strings. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley {

std::string NewUuidV4();
// Time-ordered (RFC 9562 UUIDv7): 48-bit Unix ms, then a counter that keeps ids strictly
// increasing within this process even within one millisecond, then random bits.
std::string NewUuidV7();
// Returns the canonical lowercase form of `s` if it is a hyphenated UUID, else nullopt.
std::optional<std::string> NormalizeUuid(std::string_view s);
inline bool IsUuid(std::string_view s) { return NormalizeUuid(s).has_value(); }
// The id of the direct conversation between two users; the same for (a,b) and (b,a).
// A UUIDv8 from SHA-256("parley.direct.v1:" + lower + ":" + higher).
std::string DirectConversationId(std::string_view user_a, std::string_view user_b);

}  // namespace parley
