// Base64url without padding (RFC 4648 section 5), as JWTs (JWS compact form, JWKs) use it.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth {

std::string Base64UrlEncode(std::string_view data);
// InvalidArgument for characters outside the alphabet (padding included) or an impossible length.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace berth
