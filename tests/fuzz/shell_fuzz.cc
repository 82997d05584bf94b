// libFuzzer target for the Dockerfile word expander (frontend/dockerfile/shell).
//
// Input: one byte of options, then the word. The options pick the escape token (`\` or `` ` ``)
// and the raw_quotes / raw_escapes / skip_unset_env / skip_process_quotes switches. The word is
// expanded three ways against a fixed environment holding awkward values (spaces, newlines,
// pattern characters, `$`, invalid UTF-8). Besides crashes, hangs and sanitizer reports, the
// target traps when the three entry points disagree or when the reported names are wrong.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "frontend/dockerfile/shell/lex.h"

namespace {

using berth::frontend::dockerfile::shell::EnvList;
using berth::frontend::dockerfile::shell::Lexer;

const EnvList& FuzzEnv() {
  static const EnvList env = EnvList::FromSlice({
      "PWD=/home",
      "SHELL=bash",
      "KOREAN=한국어",
      "NULL=",
      "FOO=/foo*/*/*.txt",
      "BAR=",
      "NEEDLE=\\*/",
      "REPLACEMENT=[$0]$$",
      "SPACE=  a b\tc  ",
      "NL=line1\nline2",
      "STAR=*?",
      "DOLLAR=$PWD${PWD}",
      "BAD=\xff\xfe\xed\xa0\x80",
      "x=xxyy",
  });
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t options = data[0];
  const std::string_view word(reinterpret_cast<const char*>(data + 1), size - 1);

  Lexer lexer((options & 0x01) != 0 ? '`' : '\\');
  lexer.set_raw_quotes((options & 0x02) != 0);
  lexer.set_raw_escapes((options & 0x04) != 0);
  lexer.set_skip_unset_env((options & 0x08) != 0);
  lexer.set_skip_process_quotes((options & 0x10) != 0);

  const EnvList& env = FuzzEnv();
  auto single = lexer.ProcessWord(word, env.Lookup());
  auto with_matches = lexer.ProcessWordWithMatches(word, env.Lookup());
  auto words = lexer.ProcessWords(word, env.Lookup());

  // All three run the same expansion, so they succeed or fail together.
  if (single.ok() != with_matches.ok() || single.ok() != words.ok()) {
    __builtin_trap();
  }
  if (!single.ok()) {
    if (single.error().message().empty() ||
        single.error().ToString() != with_matches.error().ToString()) {
      __builtin_trap();
    }
    return 0;
  }
  if (*single != with_matches->result) {
    __builtin_trap();
  }
  for (const std::string& name : with_matches->matched) {
    if (!env.Get(name).has_value()) {
      __builtin_trap();
    }
  }
  for (const std::string& name : with_matches->unmatched) {
    if (env.Get(name).has_value()) {
      __builtin_trap();
    }
  }
  for (const std::string& w : *words) {
    if (w.empty()) {
      __builtin_trap();  // word splitting never yields an empty word
    }
  }
  return 0;
}
