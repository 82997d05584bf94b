// The argument shapes of each instruction (BuildKit's line parsers) and the split of an
// instruction line into keyword, flags and arguments.

#include <string>
#include <string_view>
#include <vector>

#include "base/gotext.h"
#include "frontend/dockerfile/parser/internal.h"
#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::parser {
namespace {

using gotext::DecodedRune;
using gotext::DecodeRune;

// The white space BuildKit splits instructions on: `[\t\v\f\r ]+`, ASCII only.
bool IsTokenSpace(char c) {
  return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

// regexp.Split(text, n) for `[\t\v\f\r ]+` on text without leading or trailing white space
// (every caller passes trimmed text): n < 0 splits at every run, n == 2 at the first.
std::vector<std::string> SplitOnTokenSpace(std::string_view text, int n) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (!IsTokenSpace(text[i]) || (n > 0 && static_cast<int>(parts.size()) == n - 1)) {
      ++i;
      continue;
    }
    parts.emplace_back(text.substr(start, i - start));
    while (i < text.size() && IsTokenSpace(text[i])) {
      ++i;
    }
    start = i;
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

// unicode.IsSpace(rune(b)): BuildKit sometimes tests single bytes for white space, so the bytes
// 0x85 and 0xA0 count as spaces even where they are part of a UTF-8 sequence.
bool IsByteSpace(unsigned char b) {
  return gotext::IsSpace(b);
}

// Appends byte `b` the way Go's `string += string(rune(b))` does: bytes from 0x80 up are read
// as Latin-1 code points and so come out UTF-8 encoded.
void AppendByteAsRune(std::string* out, unsigned char b) {
  gotext::AppendRune(out, b);
}

// Splits the leading `--flag[=value]` words off an instruction's arguments (BuildKit's
// extractBuilderFlags): quotes and backslashes in flags are processed, a lone `--` ends the
// flags and is dropped. BuildKit scans bytes here, not runes; so does this.
std::string ExtractBuilderFlags(std::string_view line, std::vector<std::string>* flags) {
  enum class Phase { kSpaces, kWord, kQuote };
  Phase phase = Phase::kSpaces;
  std::string word;
  unsigned char quote = 0;
  bool blank_ok = false;
  unsigned char ch = 0;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    if (pos != line.size()) {
      ch = static_cast<unsigned char>(line[pos]);
    }
    if (phase == Phase::kSpaces) {
      if (pos == line.size()) {
        break;
      }
      if (IsByteSpace(ch)) {
        continue;
      }
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') {
        return std::string(line.substr(pos));
      }
      phase = Phase::kWord;
    }
    if (pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) {
        flags->push_back(std::move(word));
      }
      break;
    }
    if (phase == Phase::kWord) {
      if (IsByteSpace(ch)) {
        phase = Phase::kSpaces;
        if (word == "--") {
          return std::string(line.substr(pos));
        }
        if (blank_ok || !word.empty()) {
          flags->push_back(std::move(word));
        }
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = Phase::kQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) {
          continue;
        }
        ch = static_cast<unsigned char>(line[++pos]);
      }
      AppendByteAsRune(&word, ch);
      continue;
    }
    // Phase::kQuote
    if (ch == quote) {
      phase = Phase::kWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = Phase::kWord;
        continue;
      }
      ch = static_cast<unsigned char>(line[++pos]);
    }
    AppendByteAsRune(&word, ch);
  }
  return {};
}

Error NotStringArrayError() {
  return Error::InvalidArgument(
      "when using JSON array syntax, arrays must be comprised of strings only");
}

enum class JsonOutcome { kNotJson, kJson, kNotStrings };

// parseJSON: `rest` is exec form if it is a JSON array (as Go's encoding/json reads it) of
// strings. An array holding anything else is an error, not shell form.
JsonOutcome ParseJsonArgs(std::string_view rest, Node* node) {
  rest = gotext::TrimLeftSpace(rest);
  if (!rest.starts_with('[')) {
    return JsonOutcome::kNotJson;
  }
  std::optional<internal::JsonDocument> doc = internal::ParseJson(rest);
  if (!doc || doc->number_overflow) {
    return JsonOutcome::kNotJson;
  }
  std::vector<std::string> args;
  for (std::optional<std::string>& element : doc->elements) {
    if (!element) {
      return JsonOutcome::kNotStrings;
    }
    args.push_back(std::move(*element));
  }
  node->args = std::move(args);
  node->json = true;
  return JsonOutcome::kJson;
}

// RUN, CMD, ENTRYPOINT, SHELL: exec form, or the whole text as one argument.
Result<> ParseMaybeJson(std::string_view rest, Node* node) {
  if (rest.empty()) {
    return Ok();
  }
  switch (ParseJsonArgs(rest, node)) {
    case JsonOutcome::kJson:
      return Ok();
    case JsonOutcome::kNotStrings:
      return NotStringArrayError();
    case JsonOutcome::kNotJson:
      break;
  }
  node->args.emplace_back(rest);
  return Ok();
}

// FROM, EXPOSE.
void ParseWhitespaceDelimited(std::string_view rest, Node* node) {
  if (rest.empty()) {
    return;
  }
  node->args = SplitOnTokenSpace(rest, -1);
}

// ADD, COPY, VOLUME: exec form, or words split on white space.
Result<> ParseMaybeJsonToList(std::string_view rest, Node* node) {
  switch (ParseJsonArgs(rest, node)) {
    case JsonOutcome::kJson:
      return Ok();
    case JsonOutcome::kNotStrings:
      return NotStringArrayError();
    case JsonOutcome::kNotJson:
      break;
  }
  ParseWhitespaceDelimited(rest, node);
  return Ok();
}

// ENV, LABEL: `name value` (one pair, the value is the rest of the line) or `name=value ...`,
// as triplets name, value, separator.
Result<> ParseNameValue(std::string_view rest, std::string_view instruction, char escape_token,
                        Node* node) {
  std::vector<std::string> words = ParseWords(rest, escape_token);
  if (words.empty()) {
    return Ok();
  }
  if (words[0].find('=') == std::string::npos) {
    std::vector<std::string> parts = SplitOnTokenSpace(rest, 2);
    if (parts.size() < 2) {
      return Error::InvalidArgument(std::string(instruction) + " must have two arguments");
    }
    node->args = {std::move(parts[0]), std::move(parts[1]), ""};
    return Ok();
  }
  for (const std::string& word : words) {
    size_t equals = word.find('=');
    if (equals == std::string::npos) {
      return Error::InvalidArgument("Syntax error - can't find = in " + gotext::Quote(word) +
                                    ". Must be of the form: name=value");
    }
    node->args.push_back(word.substr(0, equals));
    node->args.push_back(word.substr(equals + 1));
    node->args.emplace_back("=");
  }
  return Ok();
}

// HEALTHCHECK: the first word (NONE, CMD, ...) as written, then the rest like RUN. BuildKit
// finds the first word by testing single bytes for white space.
Result<> ParseHealthConfig(std::string_view rest, Node* node) {
  size_t sep = 0;
  while (sep < rest.size() && !IsByteSpace(static_cast<unsigned char>(rest[sep]))) {
    ++sep;
  }
  size_t next = sep;
  while (next < rest.size() && IsByteSpace(static_cast<unsigned char>(rest[next]))) {
    ++next;
  }
  if (sep == 0) {
    return Ok();
  }
  Node command;
  BERTH_TRY(ParseMaybeJson(rest.substr(next), &command));
  node->args.emplace_back(rest.substr(0, sep));
  for (std::string& arg : command.args) {
    node->args.push_back(std::move(arg));
  }
  node->json = command.json;
  return Ok();
}

}  // namespace

std::vector<std::string> ParseWords(std::string_view args, char escape_token) {
  enum class Phase { kSpaces, kWord, kQuote };
  std::vector<std::string> words;
  Phase phase = Phase::kSpaces;
  char32_t quote = 0;
  bool blank_ok = false;
  std::string word;
  const auto escape = static_cast<char32_t>(static_cast<unsigned char>(escape_token));
  DecodedRune r{0, 0};
  for (size_t pos = 0; pos <= args.size(); pos += r.width) {
    if (pos != args.size()) {
      r = DecodeRune(args, pos);
    }
    if (phase == Phase::kSpaces) {
      if (pos == args.size()) {
        break;
      }
      if (gotext::IsSpace(r.rune)) {
        continue;
      }
      phase = Phase::kWord;
    }
    if (pos == args.size()) {
      if (blank_ok || !word.empty()) {
        words.push_back(std::move(word));
      }
      break;
    }
    if (phase == Phase::kWord) {
      if (gotext::IsSpace(r.rune)) {
        phase = Phase::kSpaces;
        if (blank_ok || !word.empty()) {
          words.push_back(std::move(word));
        }
        word.clear();
        blank_ok = false;
        continue;
      }
      if (r.rune == '\'' || r.rune == '"') {
        quote = r.rune;
        blank_ok = true;
        phase = Phase::kQuote;
      }
      if (r.rune == escape) {
        if (pos + r.width == args.size()) {
          continue;  // an escape at the very end is dropped
        }
        // Outside quotes an escape keeps itself and the character after it, even a quote.
        gotext::AppendRune(&word, r.rune);
        pos += r.width;
        r = DecodeRune(args, pos);
      }
      gotext::AppendRune(&word, r.rune);
      continue;
    }
    // Phase::kQuote
    if (r.rune == quote) {
      phase = Phase::kWord;
    }
    // Nothing escapes inside single quotes.
    if (r.rune == escape && quote != '\'') {
      if (pos + r.width == args.size()) {
        phase = Phase::kWord;
        continue;
      }
      pos += r.width;
      gotext::AppendRune(&word, r.rune);
      r = DecodeRune(args, pos);
    }
    gotext::AppendRune(&word, r.rune);
  }
  return words;
}

namespace internal {

SplitLine SplitCommand(std::string_view line) {
  SplitLine split;
  std::vector<std::string> parts = SplitOnTokenSpace(gotext::TrimSpace(line), 2);
  split.keyword = std::move(parts[0]);
  if (parts.size() == 2) {
    split.args = std::string(gotext::TrimSpace(ExtractBuilderFlags(parts[1], &split.flags)));
  }
  return split;
}

Result<> ParseArguments(std::string_view keyword, std::string_view args, char escape_token,
                        Node* node) {
  if (keyword == "add" || keyword == "copy" || keyword == "volume") {
    return ParseMaybeJsonToList(args, node);
  }
  if (keyword == "cmd" || keyword == "entrypoint" || keyword == "run" || keyword == "shell") {
    return ParseMaybeJson(args, node);
  }
  if (keyword == "env") {
    return ParseNameValue(args, "ENV", escape_token, node);
  }
  if (keyword == "label") {
    return ParseNameValue(args, "LABEL", escape_token, node);
  }
  if (keyword == "arg") {
    node->args = ParseWords(args, escape_token);
    return Ok();
  }
  if (keyword == "expose" || keyword == "from") {
    ParseWhitespaceDelimited(args, node);
    return Ok();
  }
  if (keyword == "healthcheck") {
    return ParseHealthConfig(args, node);
  }
  if (keyword == "maintainer" || keyword == "stopsignal" || keyword == "user" ||
      keyword == "workdir") {
    if (!args.empty()) {
      node->args.emplace_back(args);
    }
    return Ok();
  }
  // BuildKit keeps an unknown instruction with one empty argument; the instructions layer
  // rejects it with the keyword as written.
  node->args.emplace_back();
  return Ok();
}

}  // namespace internal
}  // namespace berth::frontend::dockerfile::parser
