// Text and path primitives with the exact semantics of the Go standard library functions that
// BuildKit and moby are written with: unicode/utf8 decoding, the unicode character classes,
// strings.TrimSpace and ToLower, strconv.Quote, and path.Clean and Dir. A Dockerfile, a
// .dockerignore or an error message must come out of berth as it does out of `docker build`,
// down to how invalid UTF-8 and non-ASCII white space are treated, so these are not the ASCII
// helpers of base/strings.h.
//
// The Unicode tables are those Go 1.21 and later ship (Unicode 15.0.0); see
// gen_unicode_tables.cc. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::gotext {

// utf8.RuneError (U+FFFD) and utf8.MaxRune.
inline constexpr char32_t kRuneError = 0xFFFD;
inline constexpr char32_t kMaxRune = 0x10FFFF;

struct DecodedRune {
  char32_t rune;
  size_t width;
};

namespace internal {
// DecodeRune's out-of-line path for a byte that is not ASCII (it accepts ASCII too).
DecodedRune DecodeMultiByteRune(std::string_view text, size_t pos);
}  // namespace internal

// Decodes the UTF-8 sequence at text[pos] like utf8.DecodeRuneInString: anything that is not a
// complete, shortest-form encoding of a Unicode scalar value (overlong forms, surrogates, values
// above U+10FFFF, truncated sequences, stray continuation bytes) decodes as {kRuneError, 1}.
// Inline for ASCII, which lexers decode a character at a time.
// REQUIRES: pos < text.size().
inline DecodedRune DecodeRune(std::string_view text, size_t pos = 0) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    return {b0, 1};
  }
  return internal::DecodeMultiByteRune(text, pos);
}

// Appends the UTF-8 encoding of `rune` (like strings.Builder.WriteRune and string(rune)):
// anything that is not a Unicode scalar value is written as U+FFFD.
void AppendRune(std::string* out, char32_t rune);

// unicode.IsSpace: '\t', '\n', '\v', '\f', '\r', ' ', U+0085, U+00A0 and the White_Space
// characters above U+00FF (U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
bool IsSpace(char32_t rune);
// unicode.IsLetter (categories Lu, Ll, Lt, Lm, Lo).
bool IsLetter(char32_t rune);
// unicode.IsDigit (category Nd).
bool IsDigit(char32_t rune);
// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. Other
// white space (U+00A0, U+3000, ...), controls, format characters, private-use and unassigned
// code points are not printable.
bool IsPrint(char32_t rune);

// strings.TrimLeftFunc / TrimRightFunc / TrimSpace with unicode.IsSpace. Invalid UTF-8 is never
// white space.
std::string_view TrimLeftSpace(std::string_view text);
std::string_view TrimRightSpace(std::string_view text);
std::string_view TrimSpace(std::string_view text);

// strconv.Quote: a double-quoted Go string literal. Printable runes (IsPrint) stay as they are;
// '"' and '\\' are escaped; others become \a \b \f \n \r \t \v, \xNN below U+0020 and for
// U+007F, \uNNNN or \UNNNNNNNN above; each byte of invalid UTF-8 becomes \xNN.
std::string Quote(std::string_view text);

// strings.ToLower: ASCII text is lowered byte by byte; otherwise every rune gets its simple
// lower-case mapping (unicode.ToLower) and each byte of invalid UTF-8 becomes U+FFFD.
std::string ToLower(std::string_view text);

// path.Clean (and path/filepath.Clean on Unix): collapses repeated slashes, removes "."
// elements and resolves ".." lexically ("/.." is "/", "a/../.." is ".."); drops a trailing
// slash except on "/"; "" becomes ".".
std::string CleanPath(std::string_view path);

// path.Dir: everything up to the last '/', cleaned; "." when there is no '/'.
std::string DirPath(std::string_view path);

}  // namespace berth::gotext
