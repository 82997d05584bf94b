#include "patternmatcher/ignorefile.h"

#include "base/gotext.h"

namespace berth::patternmatcher {

Result<std::vector<std::string>> ReadIgnoreFile(std::string_view content) {
  std::vector<std::string> patterns;
  size_t line_number = 0;
  while (!content.empty()) {
    size_t newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
    ++line_number;
    if (line.size() > kMaxIgnoreFileLine) {
      return Error::InvalidArgument("error reading ignore file: line " +
                                    std::to_string(line_number) + " is longer than " +
                                    std::to_string(kMaxIgnoreFileLine) + " bytes");
    }
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) {
      line.remove_prefix(3);
    }
    if (line.starts_with('#')) {
      continue;
    }
    line = gotext::TrimSpace(line);
    if (line.empty()) {
      continue;
    }
    const bool invert = line[0] == '!';
    if (invert) {
      line = gotext::TrimSpace(line.substr(1));
    }
    std::string pattern;
    if (!line.empty()) {
      pattern = gotext::CleanPath(line);
      // Patterns are relative to the context root: "/foo" means "foo".
      if (pattern.size() > 1 && pattern[0] == '/') {
        pattern.erase(0, 1);
      }
    }
    if (invert) {
      pattern.insert(0, "!");
    }
    patterns.push_back(std::move(pattern));
  }
  return patterns;
}

}  // namespace berth::patternmatcher
