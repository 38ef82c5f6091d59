// The one place that maps an ErrorCode to what each surface shows: the HTTP status, the
// contract's error code string, and the CLI exit code.
#pragma once

#include <string_view>

#include "common/result.h"

namespace parley {

// HTTP status of an error code, per the table in docs/openapi.yaml ("Errors").
int HttpStatusOf(ErrorCode code);
// The contract's string for an error code ("invalid_argument", …).
std::string_view CodeName(ErrorCode code);
// Exit code of the `parley` CLI for an error class (0 is success, 1 usage).
int ExitCodeOf(ErrorCode code);

}  // namespace parley
