// libFuzzer target: reads the input as a .dockerignore file, builds a PatternMatcher and
// matches paths derived from the input through every matching API. Also feeds the first line
// to the regexp engine directly, since the translation reaches only part of its syntax.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "patternmatcher/ignorefile.h"
#include "patternmatcher/patternmatcher.h"
#include "patternmatcher/regexp.h"

namespace {

using berth::Result;
using berth::patternmatcher::PatternMatcher;

// Paths to try: fixed ones, each pattern itself, and each pattern with its wildcards filled.
std::vector<std::string> CandidatePaths(const std::vector<std::string>& patterns) {
  std::vector<std::string> paths = {"a", "a/b/c", ".", "/", "dir/file.txt"};
  for (const std::string& p : patterns) {
    if (paths.size() >= 16) {
      break;
    }
    std::string path = p.starts_with('!') ? p.substr(1) : p;
    paths.push_back(path);
    for (char& c : path) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        c = 'x';
      }
    }
    paths.push_back(path + "/child");
  }
  return paths;
}

void CheckPath(const PatternMatcher& pm, const std::string& path) {
  Result<bool> full = pm.MatchesOrParentMatches(path);
  PatternMatcher::MatchInfo out;
  Result<bool> no_context = pm.MatchesUsingParentResults(path, PatternMatcher::MatchInfo(), &out);
  // Without parent information MatchesUsingParentResults must behave as MatchesOrParentMatches.
  if (full.ok() != no_context.ok() || (full.ok() && *full != *no_context)) {
    __builtin_trap();
  }
  // Walk the parents top-down, as a context transfer would.
  PatternMatcher::MatchInfo info;
  for (size_t pos = 0; pos < path.size();) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) {
      break;
    }
    (void)pm.MatchesUsingParentResults(path.substr(0, slash), info, &info);
    pos = slash + 1;
  }
  (void)pm.MatchesUsingParentResults(path, info, &info);
  (void)pm.MatchesExact(path);
  (void)pm.MatchesSingleParent(path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const size_t newline = input.find('\n');
  Result<berth::patternmatcher::internal::Regexp> re =
      berth::patternmatcher::internal::Regexp::Compile(input.substr(0, newline));
  if (re.ok()) {
    (void)re->Match(newline == std::string_view::npos ? input : input.substr(newline + 1));
  }

  Result<std::vector<std::string>> patterns = berth::patternmatcher::ReadIgnoreFile(input);
  if (!patterns.ok()) {
    return 0;
  }
  Result<PatternMatcher> pm = PatternMatcher::Create(*patterns);
  if (!pm.ok()) {
    return 0;
  }
  for (const std::string& path : CandidatePaths(*patterns)) {
    CheckPath(*pm, path);
  }
  (void)berth::patternmatcher::Matches("a/b", *patterns);
  return 0;
}
