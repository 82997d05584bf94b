// Text primitives with the exact semantics of the Go standard library functions that BuildKit's
// parser is written with. The parser must split, trim and lower-case the way BuildKit does, down
// to how it treats invalid UTF-8 and non-ASCII white space, so these are not the ASCII helpers
// of base/strings.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::frontend::dockerfile::parser::internal {

inline constexpr char32_t kRuneError = 0xFFFD;

struct DecodedRune {
  char32_t rune;
  size_t width;
};

// Decodes the UTF-8 sequence at text[pos] like utf8.DecodeRuneInString: an invalid or truncated
// sequence (overlong forms and surrogates included) decodes as {kRuneError, 1}.
// REQUIRES: pos < text.size().
DecodedRune DecodeRune(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of `rune` (like strings.Builder.WriteRune: code points that are not
// valid scalar values are written as U+FFFD).
void AppendRune(std::string* out, char32_t rune);

// unicode.IsSpace.
bool IsSpace(char32_t rune);
// unicode.IsSpace(rune(b)): BuildKit sometimes tests single bytes, so 0x85 and 0xA0 count.
bool IsByteSpace(unsigned char b);
// unicode.IsLetter and unicode.IsDigit.
bool IsLetter(char32_t rune);
bool IsDigit(char32_t rune);
// unicode.IsPrint (as strconv.IsPrint).
bool IsPrint(char32_t rune);

// strings.TrimLeftFunc / TrimRightFunc / TrimFunc with unicode.IsSpace.
std::string_view TrimLeftSpace(std::string_view text);
std::string_view TrimRightSpace(std::string_view text);
std::string_view TrimSpace(std::string_view text);

// strconv.Quote: a double-quoted Go string literal. Printable runes (Unicode letters, marks,
// numbers, punctuation, symbols and the ASCII space) stay as they are; others become \n, \t,
// \x01, \u00a0 and the like, and each invalid UTF-8 byte \xNN. This is stricter than
// berth::QuoteString, which keeps all non-ASCII white space and format characters; the AST dump
// must match BuildKit's byte for byte.
std::string Quote(std::string_view text);

// strings.ToLower: ASCII is lowered in place; otherwise every rune gets its simple lower-case
// mapping and invalid UTF-8 becomes U+FFFD.
std::string ToLower(std::string_view text);

}  // namespace berth::frontend::dockerfile::parser::internal
