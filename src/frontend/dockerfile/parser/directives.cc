// Parser directives: `# syntax=`, `# escape=` and `# check=` at the top of a Dockerfile.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/gotext.h"
#include "base/strings.h"
#include "frontend/dockerfile/parser/internal.h"
#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::parser {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// bufio.Scanner's limit: a longer line stops the scan.
constexpr size_t kMaxLineLength = 64 * 1024 - 1;

// `\s` in Go's regexp syntax.
bool IsRegexpSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}
bool IsAsciiAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAsciiAlnum(char c) {
  return IsAsciiAlpha(c) || (c >= '0' && c <= '9');
}

// Matches `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` against `text`, with the regexp's
// leftmost-first semantics: the value starts after the white space that follows `=` and loses
// its trailing white space, except that a value of nothing but white space is its last byte.
bool MatchDirective(std::string_view text, std::string_view* key, std::string_view* value) {
  size_t i = 0;
  if (text.empty() || !IsAsciiAlpha(text[0])) {
    return false;
  }
  while (i < text.size() && IsAsciiAlnum(text[i])) {
    ++i;
  }
  *key = text.substr(0, i);
  while (i < text.size() && IsRegexpSpace(text[i])) {
    ++i;
  }
  if (i >= text.size() || text[i] != '=') {
    return false;
  }
  std::string_view rest = text.substr(i + 1);
  if (rest.empty()) {
    return false;
  }
  size_t start = 0;
  while (start < rest.size() && IsRegexpSpace(rest[start])) {
    ++start;
  }
  if (start == rest.size()) {
    *value = rest.substr(rest.size() - 1);
    return true;
  }
  size_t end = rest.size();
  while (IsRegexpSpace(rest[end - 1])) {
    --end;
  }
  *value = rest.substr(start, end - start);
  return true;
}

// Splits `content` into lines as bufio.Scanner with ScanLines does: without the "\n" and one
// "\r" at the end; the scan ends at a line longer than bufio's limit.
std::vector<std::string_view> ScanLines(std::string_view content) {
  std::vector<std::string_view> lines;
  while (!content.empty()) {
    size_t newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    if (line.size() > kMaxLineLength) {
      break;
    }
    content = newline == std::string_view::npos ? std::string_view() : content.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(line);
  }
  return lines;
}

// DirectiveParser.ParseAll: the directives before the first line that is not one. A duplicate
// directive ends the scan with an error, keeping what was found before it.
std::vector<Directive> ParseAllDirectives(internal::DirectiveParser* parser,
                                          std::string_view content, std::optional<Error>* error) {
  std::vector<Directive> directives;
  for (std::string_view line : ScanLines(content)) {
    if (parser->done()) {
      break;
    }
    Result<std::optional<Directive>> directive = parser->ParseLine(line);
    if (!directive.ok()) {
      *error = std::move(directive).error();
      break;
    }
    if (directive->has_value()) {
      directives.push_back(std::move(**directive));
    }
  }
  return directives;
}

std::optional<DirectiveValue> FindWithParser(std::string_view name, std::string_view content,
                                             internal::DirectiveParser parser) {
  std::optional<Error> ignored;
  for (Directive& directive : ParseAllDirectives(&parser, content, &ignored)) {
    if (directive.name == name) {
      std::string ref = directive.value.substr(0, directive.value.find(' '));
      return DirectiveValue{std::move(ref), std::move(directive.value), directive.line};
    }
  }
  return std::nullopt;
}

std::optional<DirectiveValue> FindDirectiveImpl(std::string_view name, std::string_view content,
                                                bool any_format) {
  if (content.starts_with(kUtf8Bom)) {
    content.remove_prefix(kUtf8Bom.size());
  }
  int line = 0;
  std::string_view first_line = content.substr(0, content.find('\n'));
  if (first_line.starts_with("#!")) {
    content = first_line.size() == content.size() ? std::string_view()
                                                  : content.substr(first_line.size() + 1);
    line = 1;
  }
  if (auto found = FindWithParser(name, content, internal::DirectiveParser("#", line))) {
    return found;
  }
  if (!any_format) {
    return std::nullopt;
  }
  if (auto found = FindWithParser(name, content, internal::DirectiveParser("//", line))) {
    return found;
  }
  // A whole-file JSON object. Go decodes it into a map, so the last member named `name` wins.
  std::optional<internal::JsonDocument> doc = internal::ParseJson(content);
  if (!doc || doc->number_overflow || doc->kind != internal::JsonDocument::Kind::kObject) {
    return std::nullopt;
  }
  const std::optional<std::string>* value = nullptr;
  for (const auto& [key, member_value] : doc->members) {
    if (key == name) {
      value = &member_value;
    }
  }
  if (value == nullptr || !value->has_value()) {
    return std::nullopt;
  }
  return DirectiveValue{**value, **value, line};
}

}  // namespace

namespace internal {

Result<std::optional<Directive>> DirectiveParser::ParseLine(std::string_view line) {
  ++line_;
  if (done_) {
    return std::optional<Directive>();
  }
  if (!line.starts_with(comment_)) {
    done_ = true;
    return std::optional<Directive>();
  }
  line = gotext::TrimLeftSpace(line.substr(comment_.size()));
  std::string_view key;
  std::string_view value;
  if (!MatchDirective(line, &key, &value)) {
    done_ = true;
    return std::optional<Directive>();
  }
  std::string name = berth::ToLower(key);
  if (name != "syntax" && name != "escape" && name != "check") {
    done_ = true;
    return std::optional<Directive>();
  }
  if (!seen_.insert(name).second) {
    return Error::InvalidArgument("only one " + name + " parser directive can be used");
  }
  return std::optional<Directive>(Directive{std::move(name), std::string(value), line_});
}

}  // namespace internal

Result<std::vector<Directive>> ParseDirectives(std::string_view content) {
  internal::DirectiveParser parser;
  std::optional<Error> error;
  std::vector<Directive> directives = ParseAllDirectives(&parser, content, &error);
  if (error) {
    return std::move(*error);
  }
  return directives;
}

std::optional<DirectiveValue> DetectSyntax(std::string_view content) {
  return FindDirectiveImpl("syntax", content, /*any_format=*/true);
}

std::optional<DirectiveValue> FindDirective(std::string_view name, std::string_view content) {
  return FindDirectiveImpl(name, content, /*any_format=*/false);
}

}  // namespace berth::frontend::dockerfile::parser
