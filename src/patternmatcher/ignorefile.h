// Reading .dockerignore files into pattern lists for PatternMatcher, with the rules of
// moby/patternmatcher's ignorefile.ReadAll.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::patternmatcher {

// The longest line ReadIgnoreFile accepts, in bytes without the line break (the limit of
// the Go bufio.Scanner upstream reads with).
inline constexpr size_t kMaxIgnoreFileLine = 65535;

// Splits `content` (the whole file) into patterns:
//   - lines end at "\n"; one trailing "\r" is dropped; a UTF-8 byte order mark at the start of
//     the first line is removed;
//   - lines starting with '#' are comments (only in the first column: "  # x" is a pattern);
//   - surrounding white space is trimmed and blank lines are skipped;
//   - a leading '!' is kept, white space after it trimmed; the rest is path-cleaned and a
//     leading '/' removed, so "/a/./b/" becomes "a/b" and "! /x" becomes "!x". A bare "!"
//     is returned as is (PatternMatcher::Create rejects it).
// Errors: InvalidArgument naming the line when a line exceeds kMaxIgnoreFileLine.
Result<std::vector<std::string>> ReadIgnoreFile(std::string_view content);

}  // namespace berth::patternmatcher
