#include "patternmatcher/patternmatcher.h"

#include <algorithm>

#include "base/gotext.h"
#include "base/strings.h"
#include "patternmatcher/go_compat.h"
#include "patternmatcher/regexp.h"

namespace berth::patternmatcher {
namespace {

constexpr int32_t kEof = -1;

// Bound on the compiled size of all of a matcher's wildcard patterns (about 16 bytes per
// unit), so that a hostile ignore file cannot exhaust memory. Real files use a tiny fraction.
constexpr size_t kMaxTotalCost = 8'000'000;

// Characters upstream escapes when building its regexp. Upstream means to escape
// ".+()|{}$", but its 8-byte bitmap drops every character from 64 up, so '|', '{' and '}'
// reach the regexp unescaped; berth reproduces the set actually escaped.
bool IsEscapedByUpstream(char32_t c) {
  return c == '.' || c == '+' || c == '(' || c == ')' || c == '$';
}

struct Translation {
  MatchType type;
  std::string regexp;
};

// Classifies a cleaned pattern and builds the Go regexp source for it, exactly as upstream's
// Pattern.compile does. The pattern is read as Go's text/scanner reads it: rune by rune,
// invalid UTF-8 bytes as U+FFFD, a leading byte order mark skipped.
Translation Translate(std::string_view pattern) {
  std::vector<char32_t> runes;
  for (std::string_view s = pattern; !s.empty();) {
    gotext::DecodedRune d = gotext::DecodeRune(s);
    runes.push_back(d.rune);
    s.remove_prefix(d.width);
  }
  size_t k = !runes.empty() && runes[0] == 0xFEFF ? 1 : 0;
  auto peek = [&]() -> int32_t {
    return k < runes.size() ? static_cast<int32_t>(runes[k]) : kEof;
  };

  std::string re = "^";
  MatchType type = MatchType::kExact;
  for (int i = 0; peek() != kEof; ++i) {
    const char32_t ch = runes[k++];
    if (ch == '*') {
      if (peek() == '*') {
        ++k;
        // "**/" is treated as "**".
        if (peek() == '/') {
          ++k;
        }
        if (peek() == kEof) {
          // A trailing "**" matches everything below.
          if (type == MatchType::kExact) {
            type = MatchType::kPrefix;
          } else {
            re += ".*";
            type = MatchType::kRegexp;
          }
        } else {
          // Any number of directories, including none.
          re += "(.*/)?";
          type = MatchType::kRegexp;
        }
        if (i == 0) {
          type = MatchType::kSuffix;
        }
      } else {
        re += "[^/]*";
        type = MatchType::kRegexp;
      }
    } else if (ch == '?') {
      re += "[^/]";
      type = MatchType::kRegexp;
    } else if (IsEscapedByUpstream(ch)) {
      re += '\\';
      re += static_cast<char>(ch);
    } else if (ch == '\\') {
      if (peek() != kEof) {
        re += '\\';
        gotext::AppendRune(&re, runes[k++]);
        type = MatchType::kRegexp;
      } else {
        re += '\\';
      }
    } else if (ch == '[' || ch == ']') {
      re += static_cast<char>(ch);
      type = MatchType::kRegexp;
    } else {
      gotext::AppendRune(&re, ch);
    }
  }
  if (type != MatchType::kRegexp) {
    return {type, ""};
  }
  re += '$';
  return {type, std::move(re)};
}

// Reports whether `pattern` matches one of the leading element sequences of `parent`
// ("a", "a/b", ... for "a/b"). Malformed patterns count as not matching, as upstream.
bool AnyParentMatches(const Pattern& pattern, std::string_view parent) {
  for (size_t pos = 0;;) {
    size_t slash = parent.find('/', pos);
    if (pattern.Match(parent.substr(0, slash)).value_or(false)) {
      return true;
    }
    if (slash == std::string_view::npos) {
      return false;
    }
    pos = slash + 1;
  }
}

// The first `n` '/'-separated elements of `path`, joined.
std::string_view LeadingElements(std::string_view path, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) {
      return path;
    }
    if (i + 1 == n) {
      return path.substr(0, slash);
    }
    pos = slash + 1;
  }
  return path.substr(0, 0);
}

}  // namespace

Result<bool> Pattern::Match(std::string_view path) const {
  if (!error_.empty()) {
    return Error::InvalidArgument(error_);
  }
  std::string_view text = text_;
  switch (match_type_) {
    case MatchType::kExact:
      return path == text;
    case MatchType::kPrefix:
      // Strip the trailing "**".
      return path.starts_with(text.substr(0, text.size() >= 2 ? text.size() - 2 : 0));
    case MatchType::kSuffix: {
      // Strip the leading "**"; "**/foo" also matches "foo".
      std::string_view suffix = text.substr(std::min<size_t>(2, text.size()));
      if (path.ends_with(suffix)) {
        return true;
      }
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case MatchType::kRegexp:
      return regexp_->Match(path);
  }
  return false;
}

Result<PatternMatcher> PatternMatcher::Create(const std::vector<std::string>& patterns) {
  PatternMatcher pm;
  pm.patterns_.reserve(patterns.size());
  size_t total_cost = 0;
  for (const std::string& raw : patterns) {
    std::string_view trimmed = gotext::TrimSpace(raw);
    if (trimmed.empty()) {
      continue;
    }
    std::string text = gotext::CleanPath(trimmed);
    Pattern pattern;
    if (text[0] == '!') {
      if (text.size() == 1) {
        return Error::InvalidArgument("illegal exclusion pattern: \"!\"");
      }
      pattern.exclusion_ = true;
      pm.exclusions_ = true;
      text.erase(0, 1);
    }
    if (!internal::IsValidGlob(text)) {
      return Error::InvalidArgument("syntax error in pattern " + QuoteString(text));
    }
    pattern.dirs_ = static_cast<size_t>(std::count(text.begin(), text.end(), '/')) + 1;
    Translation translation = Translate(text);
    pattern.match_type_ = translation.type;
    if (translation.type == MatchType::kRegexp) {
      Result<internal::Regexp> re = internal::Regexp::Compile(translation.regexp);
      if (re.ok()) {
        total_cost += re->cost();
        if (total_cost > kMaxTotalCost) {
          return Error::InvalidArgument("patterns too complex: their compiled size exceeds " +
                                        std::to_string(kMaxTotalCost) + " units");
        }
        pattern.regexp_ = std::make_shared<const internal::Regexp>(std::move(re).value());
      } else {
        // Upstream compiles lazily and reports this when the pattern is first evaluated.
        pattern.error_ =
            "syntax error in pattern " + QuoteString(text) + ": " + re.error().message();
      }
      pattern.regexp_text_ = std::move(translation.regexp);
    }
    pattern.text_ = std::move(text);
    pm.patterns_.push_back(std::move(pattern));
  }
  return pm;
}

Result<bool> PatternMatcher::MatchesOrParentMatches(std::string_view path) const {
  const std::string parent = gotext::DirPath(path);
  bool matched = false;
  for (const Pattern& pattern : patterns_) {
    // An inclusion cannot change an already matched path, nor an exclusion an unmatched one.
    if (pattern.exclusion_ != matched) {
      continue;
    }
    bool match = BERTH_TRY(pattern.Match(path));
    if (!match && parent != ".") {
      match = AnyParentMatches(pattern, parent);
    }
    if (match) {
      matched = !pattern.exclusion_;
    }
  }
  return matched;
}

Result<bool> PatternMatcher::MatchesUsingParentResults(std::string_view path,
                                                       const MatchInfo& parent,
                                                       MatchInfo* out) const {
  const std::vector<bool>& parent_matched = parent.parent_matched_;
  if (!parent_matched.empty() && parent_matched.size() != patterns_.size()) {
    return Error::InvalidArgument("wrong number of values in parentMatched");
  }
  MatchInfo info;
  info.parent_matched_.assign(patterns_.size(), false);
  bool matched = false;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const Pattern& pattern = patterns_[i];
    // A pattern that matched the parent matches everything below it.
    bool match = !parent_matched.empty() && parent_matched[i];
    if (!match) {
      if (pattern.exclusion_ != matched) {
        continue;
      }
      match = BERTH_TRY(pattern.Match(path));
      // Without information about the parent, check the parents the slow way.
      if (!match && parent_matched.empty()) {
        const std::string dir = gotext::DirPath(path);
        if (dir != ".") {
          match = AnyParentMatches(pattern, dir);
        }
      }
    }
    info.parent_matched_[i] = match;
    if (match) {
      matched = !pattern.exclusion_;
    }
  }
  if (out != nullptr) {
    *out = std::move(info);
  }
  return matched;
}

Result<bool> PatternMatcher::MatchesExact(std::string_view path) const {
  bool matched = false;
  for (const Pattern& pattern : patterns_) {
    if (pattern.exclusion_ != matched) {
      continue;
    }
    if (BERTH_TRY(pattern.Match(path))) {
      matched = !pattern.exclusion_;
    }
  }
  return matched;
}

Result<bool> PatternMatcher::MatchesSingleParent(std::string_view path) const {
  const std::string parent = gotext::DirPath(path);
  const size_t parent_dirs = static_cast<size_t>(std::count(parent.begin(), parent.end(), '/')) + 1;
  bool matched = false;
  for (const Pattern& pattern : patterns_) {
    if (pattern.exclusion_ != matched) {
      continue;
    }
    bool match = BERTH_TRY(pattern.Match(path));
    if (!match && parent != "." && pattern.dirs_ <= parent_dirs) {
      match = pattern.Match(LeadingElements(parent, pattern.dirs_)).value_or(false);
    }
    if (match) {
      matched = !pattern.exclusion_;
    }
  }
  return matched;
}

Result<bool> Matches(std::string_view path, const std::vector<std::string>& patterns) {
  PatternMatcher pm = BERTH_TRY(PatternMatcher::Create(patterns));
  const std::string cleaned = gotext::CleanPath(path);
  if (cleaned == ".") {
    // Excluding the whole context is not allowed.
    return false;
  }
  return pm.MatchesSingleParent(cleaned);
}

Result<bool> MatchesOrParentMatches(std::string_view path,
                                    const std::vector<std::string>& patterns) {
  PatternMatcher pm = BERTH_TRY(PatternMatcher::Create(patterns));
  const std::string cleaned = gotext::CleanPath(path);
  if (cleaned == ".") {
    return false;
  }
  return pm.MatchesOrParentMatches(cleaned);
}

}  // namespace berth::patternmatcher
