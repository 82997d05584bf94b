// Re-implementations of the few Go standard library functions whose exact behaviour the
// .dockerignore rules depend on: path cleaning (path/filepath.Clean and Dir on Unix),
// strings.TrimSpace, UTF-8 decoding as Go's unicode/utf8 does it, and the syntax check that
// path/filepath.Match applies to a pattern. Internal to the patternmatcher component.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::patternmatcher::internal {

inline constexpr char32_t kRuneError = 0xFFFD;
inline constexpr char32_t kMaxRune = 0x10FFFF;

struct DecodedRune {
  char32_t rune;
  size_t width;
};

// Decodes the rune at the start of `s` as Go's utf8.DecodeRuneInString does: an invalid,
// overlong, surrogate or truncated sequence yields {kRuneError, 1}.
// REQUIRES: !s.empty().
DecodedRune DecodeRune(std::string_view s);

// Appends the UTF-8 encoding of `r`; invalid code points are written as U+FFFD, as Go's
// string(rune) does.
void AppendUtf8(char32_t r, std::string* out);

// path/filepath.Clean with '/' as the separator: collapses repeated slashes, removes "."
// elements and resolves ".." lexically; "" becomes ".".
std::string CleanPath(std::string_view path);

// path/filepath.Dir: everything up to the last '/', cleaned; "." when there is no '/'.
std::string DirPath(std::string_view path);

// strings.TrimSpace: removes leading and trailing Unicode white space (ASCII space, \t, \n,
// \v, \f, \r, U+0085, U+00A0 and the Unicode White_Space characters above U+00FF).
std::string_view TrimSpace(std::string_view s);

// Reports whether path/filepath.Match (on Unix) accepts `pattern`, i.e. would not return
// ErrBadPattern: every '[' class is terminated and non-empty, ranges have both ends, no
// unescaped '-' or ']' where a class character is expected, no trailing '\', and class
// characters are valid UTF-8. Reversed ranges such as "[z-a]" are accepted, as in Go.
bool IsValidGlob(std::string_view pattern);

}  // namespace berth::patternmatcher::internal
