// Include/exclude matching of context paths against .dockerignore patterns, with exactly the
// rules of moby/patternmatcher (the library Docker and BuildKit use).
//
// A pattern list is ordered; each pattern is trimmed, path-cleaned ("./a//b/" -> "a/b") and
// may start with '!' to re-include what earlier patterns excluded. The last pattern that
// applies to a path decides. Wildcards: '*' (any run of non-'/' characters), '?' (one
// non-'/' character), "[a-z]" / "[^a-z]" classes, '\' escapes, and "**" (any number of
// directories, including none). A pattern also matches everything below a directory it
// matches ("docs" matches "docs/README.md").
//
// Paths are relative to the context root and use '/' separators; they are not cleaned. The
// matcher does not strip a leading '/' from patterns: ReadIgnoreFile (ignorefile.h) does that
// for .dockerignore files, as upstream's ignorefile.ReadAll does.
//
// Fidelity notes. Upstream compiles wildcard patterns to Go regular expressions and some
// characters reach the regexp unescaped, so berth reproduces Go's regexp semantics for them
// rather than plain glob semantics: '|' alternates ("*.js|*.ts"), "{n,m}" repeats, '^' anchors,
// "\d" / "\w" / "\b" are regexp escapes, "[[:alpha:]]" is a POSIX class, '*' and '?' inside
// brackets break the bracket expression, and "**" inside a pattern does not cross '\n'.
// Patterns that Go's regexp rejects ("[z-a]", "\y") are accepted by Create and fail when
// they are evaluated, as upstream's do. Divergences: Unicode classes ("\pL") are rejected
// when evaluated, where Go accepts the valid ones; a single pattern compiling to more than
// 200,000 regexp instructions (about 200 "?{1000}") is rejected when evaluated, and a matcher
// whose patterns compile to more than 8,000,000 units in total is refused by Create, so that
// a hostile ignore file cannot exhaust memory.
//
// Thread-safety: a PatternMatcher is immutable after Create; all methods are const and may be
// called concurrently. Matching never backtracks: its cost is linear in the path length times
// the size of each pattern.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::patternmatcher {

namespace internal {
class Regexp;
}  // namespace internal

// How a pattern is evaluated: exact comparison, prefix ("dir/**"), suffix ("**/name"), or
// the general matcher. Mirrors upstream's internal classification (exposed for tests).
enum class MatchType { kExact, kPrefix, kSuffix, kRegexp };

// One cleaned pattern of a PatternMatcher.
class Pattern {
 public:
  // The pattern after trimming and cleaning, without its leading '!'.
  const std::string& text() const { return text_; }
  // True for a '!' (re-include) pattern.
  bool exclusion() const { return exclusion_; }
  MatchType match_type() const { return match_type_; }
  // For kRegexp patterns, the Go regexp source upstream builds (e.g. "^a[^/]*$"); else "".
  const std::string& regexp_text() const { return regexp_text_; }

  // Reports whether `path` itself matches (parent directories are not considered).
  // Errors: InvalidArgument when the pattern is malformed as a regular expression.
  Result<bool> Match(std::string_view path) const;

 private:
  friend class PatternMatcher;

  std::string text_;
  bool exclusion_ = false;
  MatchType match_type_ = MatchType::kExact;
  // Number of '/'-separated elements of text_.
  size_t dirs_ = 1;
  std::string regexp_text_;
  std::shared_ptr<const internal::Regexp> regexp_;
  // Why the pattern cannot be evaluated, or empty.
  std::string error_;
};

class PatternMatcher {
 public:
  // What MatchesUsingParentResults learnt about a directory, to pass when matching its
  // children. A default-constructed MatchInfo means "no information about the parent".
  class MatchInfo {
   public:
    MatchInfo() = default;

   private:
    friend class PatternMatcher;
    // One entry per pattern: whether the parent directory (or one of its parents) matched it.
    std::vector<bool> parent_matched_;
  };

  // An empty matcher: matches nothing.
  PatternMatcher() = default;

  // Compiles `patterns`; empty and blank entries are skipped.
  // Errors: InvalidArgument for a bare "!" (`illegal exclusion pattern: "!"`) or a pattern
  // that path/filepath.Match rejects ("[", "a[", "[]a]", "[x-]", trailing '\').
  static Result<PatternMatcher> Create(const std::vector<std::string>& patterns);

  // Reports whether `path`, or any of its parent directories, matches the patterns and is not
  // re-included by a later '!' pattern. The path is not cleaned.
  // Errors: InvalidArgument when a pattern that had to be evaluated is malformed.
  Result<bool> MatchesOrParentMatches(std::string_view path) const;

  // Like MatchesOrParentMatches, but reuses the result for the parent directory instead of
  // re-matching every parent. Walk the tree top-down, passing for each entry the MatchInfo
  // that was produced for its directory (an empty MatchInfo for entries at the root, or when
  // nothing is known: then parents are checked as MatchesOrParentMatches does). On success,
  // *out (which may be &parent) receives the info to pass for this entry's children.
  // Errors: InvalidArgument for a malformed pattern, or a `parent` built by another matcher.
  // REQUIRES: out != nullptr.
  Result<bool> MatchesUsingParentResults(std::string_view path, const MatchInfo& parent,
                                         MatchInfo* out) const;

  // Reports whether `path` itself matches, without considering parent directories.
  Result<bool> MatchesExact(std::string_view path) const;

  // Upstream's deprecated PatternMatcher.Matches: like MatchesOrParentMatches, but of the
  // parent directories it only checks the one with as many elements as the pattern has. Kept
  // for compatibility; prefer MatchesOrParentMatches.
  Result<bool> MatchesSingleParent(std::string_view path) const;

  // True when any pattern is a '!' re-include.
  bool exclusions() const { return exclusions_; }
  const std::vector<Pattern>& patterns() const { return patterns_; }

 private:
  std::vector<Pattern> patterns_;
  bool exclusions_ = false;
};

// Upstream's deprecated package-level Matches(file, patterns): compiles `patterns`, cleans
// `path`, returns false for "." and otherwise PatternMatcher::MatchesSingleParent.
Result<bool> Matches(std::string_view path, const std::vector<std::string>& patterns);

// Compiles `patterns`, cleans `path`, returns false for "." and otherwise
// PatternMatcher::MatchesOrParentMatches.
Result<bool> MatchesOrParentMatches(std::string_view path,
                                    const std::vector<std::string>& patterns);

}  // namespace berth::patternmatcher
