// `parleyd admin …`: administration done against the data directory while the server is stopped
// or running (SQLite serialises the writers).
#pragma once

#include <string>

#include "common/config.h"

namespace parley::exe {

// Creates a user with the admin role, or grants it to an existing one (`grant_only`).
// Returns the process exit code; prints what happened.
int AdminCreateUser(const Config& cfg, const std::string& username, const std::string& password,
                    const std::string& display_name);
int AdminGrant(const Config& cfg, const std::string& username);
// Replaces the access-token signing key (DATA_DIR/jwt_ed25519.key); the old one is kept as
// jwt_ed25519.key.previous to verify the tokens it signed for 15 minutes after the next start.
int AdminRotateSigningKey(const Config& cfg);

}  // namespace parley::exe
