// A small regular-expression engine for the expressions moby/patternmatcher builds from
// .dockerignore patterns. Internal to the patternmatcher component.
//
// Upstream turns a wildcard pattern into Go regexp source text ("a*" becomes "^a[^/]*$") and
// compiles that with Go's regexp package. That translation passes some characters through
// unescaped ('[', ']', '^', '|', '{', '}' and anything after a '\'), so the regexp syntax
// leaks into pattern semantics: "a|b*" is an alternation, "\d" a digit, "[z-a]" a compile
// error. To match upstream exactly, berth builds the same source text and interprets it with
// Go's syntax rules (Perl flags: '.' excludes '\n', '^'/'$' anchor the whole text, classes and
// escapes as in regexp/syntax), implemented here as a Thompson NFA simulation: matching costs
// O(len(text) * len(program)) and never backtracks, whatever the input.
//
// Supported: literals, '.', '^', '$', '|', groups "(...)", '*' '+' '?' and "{n,m}" (greedy or
// lazy), bracket classes with ranges, negation, POSIX "[:name:]" classes and escapes, the
// escapes \A \z \b \B \Q...\E \d \D \s \S \w \W, octal, \xHH, \x{H...}, \a \f \n \r \t \v
// and escaped punctuation. Not supported, reported as errors: Unicode classes (\p, \P),
// flag groups "(?...)" and programs over kMaxInstructions (Go allows about 16 times more).
// Of these only \p/\P and huge counted repetitions can come from a pattern; both are
// documented in patternmatcher.h.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace berth::patternmatcher::internal {

class Regexp {
 public:
  static constexpr size_t kMaxInstructions = 200'000;

  // Parses `expr` with Go's regexp/syntax rules (Perl flags). Errors are InvalidArgument with
  // a message naming the problem, e.g. "invalid character class range: `z-a`".
  static Result<Regexp> Compile(std::string_view expr);

  // Memory footprint in instructions plus class ranges, for callers that budget many
  // expressions.
  size_t cost() const;

  // Reports whether `text` contains a match (Go's Regexp.MatchString). Invalid UTF-8 bytes in
  // `text` read as U+FFFD, one byte each. Thread-safe.
  bool Match(std::string_view text) const;

 private:
  enum class Op : uint8_t { kRune, kSplit, kAssert, kMatch };
  enum class Assertion : uint8_t { kBeginText, kEndText, kWordBoundary, kNoWordBoundary };

  // A set of code points as sorted, disjoint, inclusive ranges, plus an ASCII bitmap.
  struct CharClass {
    std::vector<std::pair<char32_t, char32_t>> ranges;
    uint64_t ascii[2] = {0, 0};
    bool Contains(char32_t r) const;
  };

  struct Inst {
    Op op;
    Assertion assertion = Assertion::kBeginText;
    uint32_t out = 0;
    uint32_t out1 = 0;
    uint32_t char_class = 0;
  };

  friend class RegexpCompiler;

  bool AssertionHolds(Assertion a, size_t pos, size_t size, int32_t prev, int32_t next) const;

  std::vector<Inst> program_;
  std::vector<CharClass> classes_;
  uint32_t start_ = 0;
  // True when every match must begin at offset 0, so the search can stop early.
  bool anchored_ = false;
};

}  // namespace berth::patternmatcher::internal
