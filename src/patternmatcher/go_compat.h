// The syntax check that Go's path/filepath.Match applies to a pattern, which decides which
// .dockerignore patterns are errors. Internal to the patternmatcher component; the other Go
// standard library behaviour the rules depend on (path.Clean, strings.TrimSpace, UTF-8
// decoding) comes from base/gotext.h.
#pragma once

#include <string_view>

namespace berth::patternmatcher::internal {

// Reports whether path/filepath.Match (on Unix) accepts `pattern`, i.e. would not return
// ErrBadPattern: every '[' class is terminated and non-empty, ranges have both ends, no
// unescaped '-' or ']' where a class character is expected, no trailing '\', and class
// characters are valid UTF-8. Reversed ranges such as "[z-a]" are accepted, as in Go.
bool IsValidGlob(std::string_view pattern);

}  // namespace berth::patternmatcher::internal
