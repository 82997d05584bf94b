// Small string helpers used across components.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

// Splits on every occurrence of `sep`; "a,,b" gives {"a", "", "b"}; "" gives {""}.
std::vector<std::string> StrSplit(std::string_view text, char sep);
// Splits at the first `sep`: {"k", "v"} for "k=v"; {"k", ""} and found=false when absent.
std::pair<std::string, std::string> SplitOnce(std::string_view text, char sep,
                                              bool* found = nullptr);
std::string StrJoin(const std::vector<std::string>& parts, std::string_view sep);
// Removes ASCII whitespace from both ends.
std::string_view Trim(std::string_view text);
std::string ToLower(std::string_view text);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Quotes `text` exactly as Go's strconv.Quote does (gotext::Quote), so that messages that name a
// value read the same as BuildKit's.
std::string QuoteString(std::string_view text);

// `t` as RFC 3339 in UTC with nanoseconds: "2026-11-27T08:41:03.000000001Z" (how berthd's API
// writes times, and the CLI the local ones it shows beside them).
std::string FormatRfc3339Nano(std::chrono::system_clock::time_point t);

}  // namespace berth
