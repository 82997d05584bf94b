// Word expansion for Dockerfile instructions, exactly as BuildKit's shell lexer
// (frontend/dockerfile/shell): `$x`, `${x}`, `${x:-w}`, `${x-w}`, `${x:+w}`, `${x+w}`,
// `${x:?msg}`, `${x?msg}`, `${x#p}`, `${x##p}`, `${x%p}`, `${x%%p}`, `${x/a/b}`, `${x//a/b}`,
// single and double quotes, the escape token (`\` or `` ` ``), and word splitting.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace berth::frontend::dockerfile::shell {

// Looks up a variable: the value, or nullopt when unset (set-but-empty is "").
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// An ordered environment built from "KEY=VALUE" strings: "KEY" alone means an empty value,
// and the last duplicate wins (BuildKit's EnvsFromSlice).
class EnvList {
 public:
  EnvList() = default;
  static EnvList FromSlice(const std::vector<std::string>& entries);
  void Set(std::string key, std::string value);
  std::optional<std::string> Get(std::string_view key) const;
  // Keys in first-insertion order.
  std::vector<std::string> Keys() const;
  // A lookup bound to this list; the list must outlive it.
  EnvLookup Lookup() const;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::map<std::string, size_t, std::less<>> index_;  // key -> position in entries_
};

struct ProcessResult {
  std::string result;
  std::set<std::string> matched;    // names looked up and found
  std::set<std::string> unmatched;  // names looked up and not found
};

// Expands words. Each call keeps its own state, so one Lexer may serve several threads at once.
// Untrusted input is safe: a word may nest `${...}` at most 64 deep, and one call may produce at
// most 32 MiB of text (counting every variable read and every nesting level) and take at most
// 2^24 steps matching `#`, `%` and `/` patterns (O(value length * pattern length) each); beyond
// these the calls fail with ResourceExhausted instead of running on.
class Lexer {
 public:
  explicit Lexer(char escape_token = '\\') : escape_token_(escape_token) {}

  // Options mirroring BuildKit's Lex fields.
  void set_raw_quotes(bool v) { raw_quotes_ = v; }
  void set_raw_escapes(bool v) { raw_escapes_ = v; }
  void set_skip_unset_env(bool v) { skip_unset_env_ = v; }
  void set_skip_process_quotes(bool v) { skip_process_quotes_ = v; }

  // Expands `word` into one string. InvalidArgument on a syntax error or a `${x?msg}` failure
  // (the message includes msg).
  Result<std::string> ProcessWord(std::string_view word, const EnvLookup& env) const;
  // Like ProcessWord, also reporting which variables were found and which were not.
  Result<ProcessResult> ProcessWordWithMatches(std::string_view word, const EnvLookup& env) const;
  // Expands and splits into words the way an unquoted shell word splits.
  Result<std::vector<std::string>> ProcessWords(std::string_view word, const EnvLookup& env) const;

 private:
  char escape_token_;
  bool raw_quotes_ = false;
  bool raw_escapes_ = false;
  bool skip_unset_env_ = false;
  bool skip_process_quotes_ = false;
};

}  // namespace berth::frontend::dockerfile::shell
