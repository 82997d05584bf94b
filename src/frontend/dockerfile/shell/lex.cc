#include "frontend/dockerfile/shell/lex.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/gotext.h"
#include "base/scope_exit.h"
#include "base/strings.h"

// The expander below follows BuildKit's frontend/dockerfile/shell/lex.go rule for rule, because a
// Dockerfile must mean the same thing under berth as under `docker build`. Where that code relies
// on Go's standard library (text/scanner, unicode, regexp), the parts it relies on are rebuilt
// here with the same observable behaviour:
//  - The input is read as UTF-8 the way text/scanner reads it: an invalid byte becomes U+FFFD and
//    a byte order mark at the very start is dropped.
//  - Names are made of Unicode letters, digits and `_`, by the Unicode 15 tables Go ships.
//  - `${x#p}`, `${x%p}` and `${x/p/r}` patterns were regular expressions (`*` -> `.*` or `.*?`,
//    `?` -> `.`) run by Go's regexp with leftmost-first semantics. A small Pike VM reproduces
//    exactly those matches in O(text * pattern) time, so no pattern can make matching explode.
//
// Deliberate differences, all about hostile input rather than real Dockerfiles:
//  - `${...}` may nest at most kMaxNestingDepth deep, so recursion stays bounded.
//  - One call has a Budget of text it may produce and pattern-matching steps it may take, so
//    neither `${x//?/$x}` nor a huge value against a huge pattern can exhaust memory or time.
//  - Word splitting (ProcessWords) keeps each nesting level's partial word apart. The newest
//    lex.go reuses one buffer for all levels, which drops the text in front of a nested
//    `${x:-...}` or `${x/...}` (`a${x:-b}c` splits into "bc"); older BuildKit and every shell give
//    "abc", and so does berth. ProcessWord is unaffected.

namespace berth::frontend::dockerfile::shell {
namespace {

// Outside the Unicode range, so it never collides with a decoded character.
constexpr char32_t kEof = 0xFFFFFFFF;
constexpr char32_t kByteOrderMark = 0xFEFF;

constexpr int kMaxNestingDepth = 64;
constexpr uint64_t kMaxExpansionBytes = uint64_t{32} << 20;
constexpr uint64_t kMaxMatchSteps = uint64_t{1} << 24;

// The work one call may do, so that it finishes in about a second whatever the input. Text is
// counted wherever it is produced: every variable value read, and every piece appended to the
// result of any nesting level (so a value passed up through three levels counts three times).
// Each thread a pattern matcher adds is one step.
class Budget {
 public:
  Result<> ChargeBytes(size_t bytes) {
    if (bytes > bytes_left_) {
      return Error(ErrorCode::kResourceExhausted, "expanding the word produces more than " +
                                                      std::to_string(kMaxExpansionBytes >> 20) +
                                                      " MiB of text");
    }
    bytes_left_ -= bytes;
    return {};
  }

  bool TakeMatchStep() {
    if (match_steps_left_ == 0) {
      return false;
    }
    --match_steps_left_;
    return true;
  }

  bool MatchStepsLeft() const { return match_steps_left_ > 0; }

  static Error MatchStepsExhausted() {
    return {ErrorCode::kResourceExhausted,
            "pattern matching needs more than " + std::to_string(kMaxMatchSteps) + " steps"};
  }

 private:
  uint64_t bytes_left_ = kMaxExpansionBytes;
  uint64_t match_steps_left_ = kMaxMatchSteps;
};

// ---------------------------------------------------------------------------------------------
// UTF-8, with Go's rules for invalid input (base/gotext.h).

using gotext::AppendRune;
using gotext::DecodedRune;
using gotext::DecodeRune;

// Go's string(rune); kEof, like any value that is not a Unicode scalar value, reads as U+FFFD.
std::string RuneString(char32_t rune) {
  std::string out;
  AppendRune(&out, rune);
  return out;
}

// A string split into characters, remembering where each starts so that results can be cut
// from the original bytes.
struct DecodedText {
  std::vector<char32_t> runes;
  std::vector<size_t> offsets;  // offsets[i] is where runes[i] starts; one extra entry: size
};

DecodedText Decode(std::string_view text) {
  DecodedText out;
  out.runes.reserve(text.size());
  out.offsets.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    const DecodedRune d = DecodeRune(text, pos);
    out.runes.push_back(d.rune);
    out.offsets.push_back(pos);
    pos += d.width;
  }
  out.offsets.push_back(text.size());
  return out;
}

// Reads characters one at a time with one character of lookahead, as Go's text/scanner does
// through Peek and Next.
class RuneScanner {
 public:
  explicit RuneScanner(std::string_view text) : text_(text) {
    Load();
    if (current_ == kByteOrderMark) {
      Advance();
    }
  }

  char32_t Peek() const { return current_; }

  char32_t Next() {
    const char32_t rune = current_;
    if (rune != kEof) {
      Advance();
    }
    return rune;
  }

 private:
  void Advance() {
    pos_ += width_;
    Load();
  }

  void Load() {
    if (pos_ >= text_.size()) {
      current_ = kEof;
      width_ = 0;
      return;
    }
    const DecodedRune d = DecodeRune(text_, pos_);
    current_ = d.rune;
    width_ = d.width;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t width_ = 0;
  char32_t current_ = kEof;
};

// ---------------------------------------------------------------------------------------------
// Character classes: Go's unicode.IsLetter, IsDigit and IsSpace (base/gotext.h), and the shell's
// special parameters.

using gotext::IsDigit;
using gotext::IsLetter;
using gotext::IsSpace;

// The shell's special parameters ($@, $*, $#, ...). A Dockerfile never sets them, but they are
// still read as one-character names.
bool IsSpecialParam(char32_t rune) {
  switch (rune) {
    case '@':
    case '*':
    case '#':
    case '?':
    case '-':
    case '$':
    case '!':
    case '0':
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Shell patterns for `#`, `%` and `/`.

// A compiled pattern: `*` (any run of characters), `?` (one character) and literal characters.
// Neither wildcard matches a newline, like `.` in a Go regular expression.
struct PatternItem {
  enum class Kind { kLiteral, kAnyChar, kStar };
  Kind kind;
  char32_t rune;
};
using Pattern = std::vector<PatternItem>;

// Parses a pattern. A backslash quotes `*`, `?` and `\`; before `}` or `/` it is dropped (those
// must be escaped inside `${...}` but the escape is no part of the pattern); before anything else
// it is an error.
Result<Pattern> CompilePattern(std::string_view text) {
  RuneScanner scanner(text);
  Pattern pattern;
  for (char32_t tok = scanner.Next(); tok != kEof; tok = scanner.Next()) {
    if (tok == '*') {
      // `**` matches exactly what `*` does, with the same preferences, so keep one.
      if (pattern.empty() || pattern.back().kind != PatternItem::Kind::kStar) {
        pattern.push_back({PatternItem::Kind::kStar, 0});
      }
      continue;
    }
    if (tok == '?') {
      pattern.push_back({PatternItem::Kind::kAnyChar, 0});
      continue;
    }
    if (tok == '\\') {
      if (scanner.Peek() == '}' || scanner.Peek() == '/') {
        continue;
      }
      tok = scanner.Next();
      if (tok != '*' && tok != '?' && tok != '\\') {
        return Error::InvalidArgument("invalid escape '\\" + RuneString(tok) + "'");
      }
    }
    pattern.push_back({PatternItem::Kind::kLiteral, tok});
  }
  return pattern;
}

struct Match {
  size_t begin;  // in characters
  size_t end;
};

// Finds the match a backtracking regular expression engine would report (leftmost start, then
// the first alternative in priority order: stars prefer the longest run when greedy, the
// shortest otherwise), but by simulating all alternatives in lockstep (a Pike VM), so the cost
// is O(text * pattern) whatever the pattern. States are pattern positions; state
// pattern.size() is "matched". Each thread added takes a step from the budget; running out fails
// with ResourceExhausted.
class PatternMatcher {
 public:
  PatternMatcher(const Pattern& pattern, bool greedy, Budget& budget)
      : pattern_(pattern),
        greedy_(greedy),
        budget_(budget),
        current_(pattern.size() + 1),
        next_(pattern.size() + 1) {}

  // The first match starting at or after `from`, or exactly at `from` when anchored.
  Result<std::optional<Match>> Find(std::span<const char32_t> text, size_t from, bool anchored) {
    std::optional<Match> found;
    current_.Clear();
    for (size_t pos = from;; ++pos) {
      if (!found && (!anchored || pos == from)) {
        // Lowest priority: a match starting further left always wins.
        Add(current_, 0, pos);
      }
      // Checked before trusting an empty list: a thread may have been dropped for want of steps.
      if (!budget_.MatchStepsLeft()) {
        return Budget::MatchStepsExhausted();
      }
      if (current_.threads.empty()) {
        break;
      }
      next_.Clear();
      for (const Thread& thread : current_.threads) {
        if (thread.state == pattern_.size()) {
          found = Match{thread.start, pos};
          break;  // every remaining thread has lower priority
        }
        if (pos == text.size()) {
          continue;
        }
        const char32_t rune = text[pos];
        const PatternItem& item = pattern_[thread.state];
        switch (item.kind) {
          case PatternItem::Kind::kStar:
            if (rune != '\n') {
              Add(next_, thread.state, thread.start);
            }
            break;
          case PatternItem::Kind::kAnyChar:
            if (rune != '\n') {
              Add(next_, thread.state + 1, thread.start);
            }
            break;
          case PatternItem::Kind::kLiteral:
            if (rune == item.rune) {
              Add(next_, thread.state + 1, thread.start);
            }
            break;
        }
      }
      if (!budget_.MatchStepsLeft()) {
        return Budget::MatchStepsExhausted();
      }
      if (pos == text.size()) {
        break;
      }
      std::swap(current_, next_);
    }
    return found;
  }

 private:
  struct Thread {
    size_t state;
    size_t start;
  };

  // Threads in priority order, each state at most once (the first to arrive has priority).
  struct ThreadList {
    explicit ThreadList(size_t states) : seen(states, 0) {}
    void Clear() {
      threads.clear();
      ++generation;
    }
    bool Visit(size_t state) {
      if (seen[state] == generation) {
        return false;
      }
      seen[state] = generation;
      return true;
    }
    std::vector<Thread> threads;
    std::vector<uint64_t> seen;
    uint64_t generation = 1;
  };

  void Push(ThreadList& list, size_t state, size_t start) {
    if (budget_.TakeMatchStep()) {
      list.threads.push_back({state, start});
    }  // else Find reports the exhausted budget
  }

  // Adds the thread entering `state`, following the empty moves out of stars in priority order:
  // a greedy star first tries to take one more character, a lazy one first tries to stop.
  void Add(ThreadList& list, size_t state, size_t start) {
    if (greedy_) {
      while (state < pattern_.size() && pattern_[state].kind == PatternItem::Kind::kStar) {
        if (!list.Visit(state)) {
          return;
        }
        Push(list, state, start);
        ++state;
      }
      if (list.Visit(state)) {
        Push(list, state, start);
      }
      return;
    }
    const size_t first_star = state;
    while (state < pattern_.size() && pattern_[state].kind == PatternItem::Kind::kStar &&
           list.Visit(state)) {
      ++state;
    }
    const bool reached_end_of_stars =
        state == pattern_.size() || pattern_[state].kind != PatternItem::Kind::kStar;
    if (reached_end_of_stars && list.Visit(state)) {
      Push(list, state, start);
    }
    // The stars visited above, innermost first: each one's "take a character" branch ranks below
    // everything reachable by skipping it.
    for (size_t s = state; s > first_star; --s) {
      Push(list, s - 1, start);
    }
  }

  const Pattern& pattern_;
  const bool greedy_;
  Budget& budget_;
  ThreadList current_;
  ThreadList next_;
};

Error InvalidPattern(std::string_view pattern, const Error& cause) {
  return Error::InvalidArgument("invalid pattern (" + std::string(pattern) +
                                ") in substitution: " + cause.message());
}

// ${x#pattern} and ${x##pattern}: drops the shortest (or longest) prefix of `value` that matches.
Result<std::string> TrimPrefix(std::string_view pattern_text, std::string_view value, bool greedy,
                               Budget& budget) {
  Result<Pattern> pattern = CompilePattern(pattern_text);
  if (!pattern.ok()) {
    return InvalidPattern(pattern_text, pattern.error());
  }
  const DecodedText text = Decode(value);
  PatternMatcher matcher(*pattern, greedy, budget);
  if (std::optional<Match> match = BERTH_TRY(matcher.Find(text.runes, 0, /*anchored=*/true))) {
    return std::string(value.substr(text.offsets[match->end]));
  }
  return std::string(value);
}

// The characters of `text` in reverse order; invalid bytes become U+FFFD.
std::string ReverseRunes(std::string_view text) {
  std::vector<char32_t> runes = Decode(text).runes;
  std::reverse(runes.begin(), runes.end());
  std::string out;
  out.reserve(text.size());
  for (char32_t r : runes) {
    AppendRune(&out, r);
  }
  return out;
}

// Reverses a pattern but keeps each backslash in front of the character it escapes, so that
// `a\*c` becomes `c\*a`.
std::string ReversePattern(std::string_view pattern) {
  const std::vector<char32_t> runes = Decode(pattern).runes;
  std::vector<char32_t> out(runes.size());
  const size_t n = runes.size();
  for (size_t i = 0; i < n;) {
    const size_t out_index = n - 1 - i;
    if (runes[i] == '\\' && i + 1 < n) {
      out[out_index - 1] = '\\';
      out[out_index] = runes[i + 1];
      i += 2;
    } else {
      out[out_index] = runes[i];
      ++i;
    }
  }
  std::string text;
  text.reserve(pattern.size());
  for (char32_t r : out) {
    AppendRune(&text, r);
  }
  return text;
}

// ${x%pattern} and ${x%%pattern}: the shortest (or longest) matching suffix is the shortest (or
// longest) matching prefix of the reversed value under the reversed pattern.
Result<std::string> TrimSuffix(std::string_view pattern, std::string_view value, bool greedy,
                               Budget& budget) {
  std::string trimmed =
      BERTH_TRY(TrimPrefix(ReversePattern(pattern), ReverseRunes(value), greedy, budget));
  return ReverseRunes(trimmed);
}

// Appends `tmpl` with Go regexp's template expansion for a pattern whose only group is the whole
// match: `$$` is `$`, `$0` / `${0}` is the match, any other `$name` / `${name}` is empty, and a `$`
// that starts no name stays as it is.
void AppendExpandedTemplate(std::string& out, std::string_view tmpl, std::string_view match) {
  for (;;) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) {
      break;
    }
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl.front() == '$') {
      out += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view rest = tmpl;
    const bool brace = !rest.empty() && rest.front() == '{';
    if (brace) {
      rest.remove_prefix(1);
    }
    size_t name_len = 0;
    while (name_len < rest.size()) {
      const DecodedRune d = DecodeRune(rest, name_len);
      if (!IsLetter(d.rune) && !IsDigit(d.rune) && d.rune != '_') {
        break;
      }
      name_len += d.width;
    }
    if (name_len == 0 || (brace && (name_len >= rest.size() || rest[name_len] != '}'))) {
      out += '$';
      continue;
    }
    if (rest.substr(0, name_len) == "0") {
      out.append(match);
    }
    tmpl = rest.substr(name_len + (brace ? 1 : 0));
  }
  out.append(tmpl);
}

// ${x/pattern/replacement} and ${x//pattern/replacement} (`all`). Replacing every match follows
// Go's Regexp.ReplaceAllString, template expansion and the rules for empty matches included.
Result<std::string> Replace(const Pattern& pattern, std::string_view value,
                            std::string_view replacement, bool all, Budget& budget) {
  const DecodedText text = Decode(value);
  PatternMatcher matcher(pattern, /*greedy=*/true, budget);
  if (!all) {
    std::optional<Match> match = BERTH_TRY(matcher.Find(text.runes, 0, /*anchored=*/false));
    if (!match) {
      return std::string(value);
    }
    std::string out(value.substr(0, text.offsets[match->begin]));
    out.append(replacement);
    out.append(value.substr(text.offsets[match->end]));
    return out;
  }
  std::string out;
  size_t last_end = 0;
  for (size_t pos = 0; pos <= text.runes.size();) {
    std::optional<Match> match = BERTH_TRY(matcher.Find(text.runes, pos, /*anchored=*/false));
    if (!match) {
      break;
    }
    const size_t size_before = out.size();
    const size_t begin = text.offsets[match->begin];
    const size_t end = text.offsets[match->end];
    out.append(value.substr(text.offsets[last_end], begin - text.offsets[last_end]));
    // An empty match right after another match is not replaced again.
    if (match->end > last_end || match->begin == 0) {
      AppendExpandedTemplate(out, replacement, value.substr(begin, end - begin));
    }
    BERTH_TRY(budget.ChargeBytes(out.size() - size_before));
    last_end = match->end;
    pos = match->end > pos ? match->end : pos + 1;
  }
  out.append(value.substr(text.offsets[last_end]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Word splitting.

// Collects the words of the top level of a word: unquoted whitespace, whether typed or produced
// by an unquoted expansion, separates words; quoted or escaped whitespace does not. Empty words
// are dropped, so `''` alone yields no word.
class WordSplitter {
 public:
  void AddChar(char32_t rune) {
    if (!IsSpace(rune)) {
      AddRawChar(rune);
    } else if (in_word_ && !word_.empty()) {
      words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    }
  }

  void AddRawChar(char32_t rune) {
    AppendRune(&word_, rune);
    in_word_ = true;
  }

  void AddString(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
      const DecodedRune d = DecodeRune(text, pos);
      AddChar(d.rune);
      pos += d.width;
    }
  }

  void AddRawString(std::string_view text) {
    word_.append(text);
    in_word_ = true;
  }

  std::vector<std::string> TakeWords() {
    if (!word_.empty()) {
      words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    }
    return std::move(words_);
  }

 private:
  std::string word_;
  std::vector<std::string> words_;
  bool in_word_ = false;
};

// ---------------------------------------------------------------------------------------------
// The expander.

struct Options {
  char32_t escape_token;
  bool raw_quotes;
  bool raw_escapes;
  bool skip_unset_env;
  bool skip_process_quotes;
};

struct Expansion {
  std::string text;
  std::vector<std::string> words;  // filled only when asked for
};

Error SyntaxError(std::string message) {
  return Error::InvalidArgument(std::move(message));
}

Error UnsupportedModifier(std::string_view modifier) {
  return SyntaxError("unsupported modifier (" + std::string(modifier) + ") in substitution");
}

// One expansion of one word. Reads the word once, front to back; `${...}` recurses, bounded by
// kMaxNestingDepth.
class Expander {
 public:
  Expander(const Options& options, std::string_view word, const EnvLookup& env, bool capture)
      : options_(options),
        scanner_(word),
        env_(env),
        capture_(capture),
        raw_escapes_(options.raw_escapes) {}

  Result<Expansion> Run(bool split_words) {
    return ProcessStopOn(kEof, options_.raw_escapes, split_words);
  }

  std::set<std::string> TakeMatched() { return std::move(matched_); }
  std::set<std::string> TakeUnmatched() { return std::move(unmatched_); }

 private:
  // Expands up to the unquoted, unescaped `stop` (consumed) or, for kEof, the end of the word.
  // `raw_escapes` keeps escape tokens in the output (patterns need them); it applies to this
  // level and to quotes inside it, not to the enclosing level.
  Result<Expansion> ProcessStopOn(char32_t stop, bool raw_escapes, bool split_words) {
    const bool saved_raw_escapes = raw_escapes_;
    raw_escapes_ = raw_escapes;
    ScopeExit restore([&] { raw_escapes_ = saved_raw_escapes; });

    std::string result;
    WordSplitter splitter;
    WordSplitter* words = split_words ? &splitter : nullptr;
    while (scanner_.Peek() != kEof) {
      char32_t ch = scanner_.Peek();
      if (stop != kEof && ch == stop) {
        scanner_.Next();
        return Expansion{std::move(result), splitter.TakeWords()};
      }
      const bool quote = !options_.skip_process_quotes && (ch == '\'' || ch == '"');
      if (ch == '$' || quote) {
        std::string part;
        if (ch == '$') {
          part = BERTH_TRY(ProcessDollar());
        } else if (ch == '\'') {
          part = BERTH_TRY(ProcessSingleQuote());
        } else {
          part = BERTH_TRY(ProcessDoubleQuote());
        }
        BERTH_TRY(budget_.ChargeBytes(part.size()));
        result += part;
        if (words != nullptr) {
          // Only an unquoted expansion is split; a quoted string stays one piece of a word.
          if (ch == '$') {
            words->AddString(part);
          } else {
            words->AddRawString(part);
          }
        }
        continue;
      }
      ch = scanner_.Next();
      if (ch == options_.escape_token) {
        if (raw_escapes_) {
          if (words != nullptr) {
            words->AddRawChar(ch);
          }
          AppendRune(&result, ch);
        }
        ch = scanner_.Next();
        if (ch == kEof) {
          break;  // an escape at the very end escapes nothing and vanishes
        }
        if (words != nullptr) {
          words->AddRawChar(ch);
        }
      } else if (words != nullptr) {
        words->AddChar(ch);
      }
      AppendRune(&result, ch);
    }
    if (stop != kEof) {
      return SyntaxError("unexpected end of statement while looking for matching " +
                         RuneString(stop));
    }
    return Expansion{std::move(result), splitter.TakeWords()};
  }

  // '...': everything literal up to the next single quote, which cannot be escaped.
  Result<std::string> ProcessSingleQuote() {
    std::string result;
    const char32_t open = scanner_.Next();
    if (options_.raw_quotes) {
      AppendRune(&result, open);
    }
    for (;;) {
      const char32_t ch = scanner_.Next();
      if (ch == kEof) {
        return SyntaxError("unexpected end of statement while looking for matching single-quote");
      }
      if (ch == '\'') {
        if (options_.raw_quotes) {
          AppendRune(&result, ch);
        }
        return result;
      }
      AppendRune(&result, ch);
    }
  }

  // "...": literal except for `$` expansions; the escape token escapes only `"`, `$` and itself
  // and is otherwise kept.
  Result<std::string> ProcessDoubleQuote() {
    std::string result;
    const char32_t open = scanner_.Next();
    if (options_.raw_quotes) {
      AppendRune(&result, open);
    }
    for (;;) {
      const char32_t peek = scanner_.Peek();
      if (peek == kEof) {
        return SyntaxError("unexpected end of statement while looking for matching double-quote");
      }
      if (peek == '"') {
        scanner_.Next();
        if (options_.raw_quotes) {
          AppendRune(&result, peek);
        }
        return result;
      }
      if (peek == '$') {
        std::string value = BERTH_TRY(ProcessDollar());
        BERTH_TRY(budget_.ChargeBytes(value.size()));
        result += value;
        continue;
      }
      char32_t ch = scanner_.Next();
      if (ch == options_.escape_token) {
        if (raw_escapes_) {
          AppendRune(&result, ch);
        }
        const char32_t escaped = scanner_.Peek();
        if (escaped == kEof) {
          continue;  // reported as the missing closing quote
        }
        if (escaped == '"' || escaped == '$' || escaped == options_.escape_token) {
          ch = scanner_.Next();
        }
      }
      AppendRune(&result, ch);
    }
  }

  // `$name`, `${name}` or `${name<modifier>...}`, with the scanner on the `$`.
  Result<std::string> ProcessDollar() {
    scanner_.Next();
    if (scanner_.Peek() != '{') {
      std::string name = ProcessName();
      if (name.empty()) {
        return std::string("$");
      }
      std::optional<std::string> value = BERTH_TRY(GetEnv(name));
      if (!value && options_.skip_unset_env) {
        return "$" + name;
      }
      return value.value_or("");
    }

    scanner_.Next();
    const char32_t first = scanner_.Peek();
    if (first == kEof) {
      return SyntaxError("syntax error: missing '}'");
    }
    if (first == '{' || first == '}' || first == ':') {
      return SyntaxError("syntax error: bad substitution");
    }
    std::string name = ProcessName();
    const char32_t op = scanner_.Next();
    std::string modifier = RuneString(op);
    switch (op) {
      case '}': {
        std::optional<std::string> value = BERTH_TRY(GetEnv(name));
        if (!value && options_.skip_unset_env) {
          return "${" + name + "}";
        }
        return value.value_or("");
      }
      case ':': {
        // `${x:-w}` and friends: like `${x-w}`, but an empty value counts as unset.
        const char32_t second = scanner_.Next();
        modifier += RuneString(second);
        return ProcessModifier(name, second, modifier, /*null_is_unset=*/true);
      }
      case '+':
      case '-':
      case '?':
      case '#':
      case '%':
        return ProcessModifier(name, op, modifier, /*null_is_unset=*/false);
      case '/':
        return ProcessReplace(name);
      default:
        return UnsupportedModifier(modifier);
    }
  }

  // Expands the word after a modifier, up to `stop`. A nested failure that ran into the end of
  // input is reported as `missing_stop`.
  Result<std::string> ProcessNested(char32_t stop, bool raw_escapes, const char* missing_stop) {
    if (depth_ >= kMaxNestingDepth) {
      return Error(
          ErrorCode::kResourceExhausted,
          "substitutions nested more than " + std::to_string(kMaxNestingDepth) + " levels deep");
    }
    ++depth_;
    Result<Expansion> nested = ProcessStopOn(stop, raw_escapes, /*split_words=*/false);
    --depth_;
    if (!nested.ok()) {
      if (scanner_.Peek() == kEof && nested.error().code() == ErrorCode::kInvalidArgument) {
        return SyntaxError(missing_stop);
      }
      return std::move(nested).error();
    }
    return std::move(nested->text);
  }

  // `${name<op>word}` with op one of `-`, `+`, `?`, `#`, `%` (after an optional `:`, recorded
  // in `modifier` for messages), the scanner just past op.
  Result<std::string> ProcessModifier(const std::string& name, char32_t op,
                                      const std::string& modifier, bool null_is_unset) {
    const bool is_pattern = op == '#' || op == '%';
    if (null_is_unset && is_pattern) {
      return UnsupportedModifier(modifier);
    }
    std::string word = BERTH_TRY(ProcessNested('}', is_pattern, "syntax error: missing '}'"));

    std::optional<std::string> value = BERTH_TRY(GetEnv(name));
    if (!value && options_.skip_unset_env) {
      return "${" + name + modifier + word + "}";
    }
    const bool unset = !value || (null_is_unset && value->empty());
    switch (op) {
      case '-':
        return unset ? word : *value;
      case '+':
        return unset ? std::string() : word;
      case '?':
        if (!value) {
          return SyntaxError(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        }
        if (unset) {
          return SyntaxError(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
        }
        return *value;
      case '#':
      case '%': {
        // A doubled operator (`##`, `%%`) asks for the longest match.
        const bool greedy = !word.empty() && static_cast<char32_t>(word.front()) == op;
        std::string_view pattern(word);
        if (greedy) {
          pattern.remove_prefix(1);
        }
        if (op == '%') {
          return TrimSuffix(pattern, value.value_or(""), greedy, budget_);
        }
        return TrimPrefix(pattern, value.value_or(""), greedy, budget_);
      }
      default:
        return UnsupportedModifier(modifier);
    }
  }

  // `${name/pattern/replacement}` or `${name//pattern/replacement}`, the scanner just past the
  // first `/`.
  Result<std::string> ProcessReplace(const std::string& name) {
    const bool all = scanner_.Peek() == '/';
    if (all) {
      scanner_.Next();
    }
    std::string pattern_text =
        BERTH_TRY(ProcessNested('/', /*raw_escapes=*/true, "syntax error: missing '/' in ${}"));
    std::string replacement =
        BERTH_TRY(ProcessNested('}', /*raw_escapes=*/true, "syntax error: missing '}'"));

    std::optional<std::string> value = BERTH_TRY(GetEnv(name));
    if (!value && options_.skip_unset_env) {
      return "${" + name + "/" + pattern_text + "/" + replacement + "}";
    }
    Result<Pattern> pattern = CompilePattern(pattern_text);
    if (!pattern.ok()) {
      return InvalidPattern(pattern_text, pattern.error());
    }
    return Replace(*pattern, value.value_or(""), replacement, all, budget_);
  }

  // A name: a run of digits (positional parameter), one special parameter character, or
  // letters, digits and underscores. Empty when none of these follows.
  std::string ProcessName() {
    std::string name;
    while (scanner_.Peek() != kEof) {
      const char32_t ch = scanner_.Peek();
      if (name.empty() && IsDigit(ch)) {
        while (scanner_.Peek() != kEof && IsDigit(scanner_.Peek())) {
          AppendRune(&name, scanner_.Next());
        }
        return name;
      }
      if (name.empty() && IsSpecialParam(ch)) {
        scanner_.Next();
        return RuneString(ch);
      }
      if (!IsLetter(ch) && !IsDigit(ch) && ch != '_') {
        break;
      }
      AppendRune(&name, scanner_.Next());
    }
    return name;
  }

  // Looks a name up, recording whether it was found. The value counts against the budget: it
  // is a copy, and expansions that discard it (`${x:+...}`) must not be free.
  Result<std::optional<std::string>> GetEnv(const std::string& name) {
    std::optional<std::string> value = env_ ? env_(name) : std::nullopt;
    if (capture_) {
      (value ? matched_ : unmatched_).insert(name);
    }
    if (value) {
      BERTH_TRY(budget_.ChargeBytes(value->size()));
    }
    return value;
  }

  const Options& options_;
  RuneScanner scanner_;
  const EnvLookup& env_;
  const bool capture_;
  bool raw_escapes_;
  int depth_ = 0;
  Budget budget_;
  std::set<std::string> matched_;
  std::set<std::string> unmatched_;
};

Error WrapError(std::string_view word, Error error) {
  return std::move(error).AddContext("failed to process " + QuoteString(word));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EnvList

EnvList EnvList::FromSlice(const std::vector<std::string>& entries) {
  EnvList env;
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      env.Set(entry, "");
    } else {
      env.Set(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  return env;
}

void EnvList::Set(std::string key, std::string value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

std::optional<std::string> EnvList::Get(std::string_view key) const {
  auto it = index_.find(key);
  if (it == index_.end()) {
    return std::nullopt;
  }
  return entries_[it->second].second;
}

std::vector<std::string> EnvList::Keys() const {
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const auto& [key, value] : entries_) {
    keys.push_back(key);
  }
  return keys;
}

EnvLookup EnvList::Lookup() const {
  return [this](std::string_view name) {
    return Get(name);
  };
}

// ---------------------------------------------------------------------------------------------
// Lexer

namespace {

Options MakeOptions(char escape_token, bool raw_quotes, bool raw_escapes, bool skip_unset_env,
                    bool skip_process_quotes) {
  return Options{static_cast<unsigned char>(escape_token), raw_quotes, raw_escapes, skip_unset_env,
                 skip_process_quotes};
}

}  // namespace

Result<std::string> Lexer::ProcessWord(std::string_view word, const EnvLookup& env) const {
  const Options options =
      MakeOptions(escape_token_, raw_quotes_, raw_escapes_, skip_unset_env_, skip_process_quotes_);
  Expander expander(options, word, env, /*capture=*/false);
  Result<Expansion> expansion = expander.Run(/*split_words=*/false);
  if (!expansion.ok()) {
    return WrapError(word, std::move(expansion).error());
  }
  return std::move(expansion->text);
}

Result<ProcessResult> Lexer::ProcessWordWithMatches(std::string_view word,
                                                    const EnvLookup& env) const {
  const Options options =
      MakeOptions(escape_token_, raw_quotes_, raw_escapes_, skip_unset_env_, skip_process_quotes_);
  Expander expander(options, word, env, /*capture=*/true);
  Result<Expansion> expansion = expander.Run(/*split_words=*/false);
  if (!expansion.ok()) {
    return WrapError(word, std::move(expansion).error());
  }
  return ProcessResult{std::move(expansion->text), expander.TakeMatched(),
                       expander.TakeUnmatched()};
}

Result<std::vector<std::string>> Lexer::ProcessWords(std::string_view word,
                                                     const EnvLookup& env) const {
  const Options options =
      MakeOptions(escape_token_, raw_quotes_, raw_escapes_, skip_unset_env_, skip_process_quotes_);
  Expander expander(options, word, env, /*capture=*/false);
  Result<Expansion> expansion = expander.Run(/*split_words=*/true);
  if (!expansion.ok()) {
    return WrapError(word, std::move(expansion).error());
  }
  return std::move(expansion->words);
}

}  // namespace berth::frontend::dockerfile::shell
