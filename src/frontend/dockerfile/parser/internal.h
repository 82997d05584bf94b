// Pieces of the parser shared between its .cc files; not part of the component's interface.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::parser::internal {

// --- JSON (json.cc) ---

// The parts of a JSON document the parser looks at: the direct elements of a top-level array
// (exec form) or the direct members of a top-level object (`{"syntax": ...}`).
struct JsonDocument {
  enum class Kind { kArray, kObject, kOther };
  Kind kind = Kind::kOther;
  // kArray: each element's text if it is a string, std::nullopt otherwise.
  std::vector<std::optional<std::string>> elements;
  // kObject: each member's key and its text if the value is a string, in document order.
  std::vector<std::pair<std::string, std::optional<std::string>>> members;
  // A number anywhere in the document is too large for a float64. Go's encoding/json then
  // fails to unmarshal a document it has accepted as valid.
  bool number_overflow = false;
};

// Accepts exactly what Go's encoding/json accepts as one JSON value (surrounded by JSON white
// space), nesting at most 10000 deep; decodes strings as Go does (invalid UTF-8 and lone
// surrogates become U+FFFD). Returns std::nullopt on a syntax error. Iterative: any depth of
// input is safe.
std::optional<JsonDocument> ParseJson(std::string_view text);

// --- Parser directives (directives.cc) ---

// Recognises the `# name=value` directives at the top of a file, one line at a time, the way
// BuildKit's DirectiveParser does: the first line that is not a known directive ends the block.
class DirectiveParser {
 public:
  // `comment` is the prefix a directive line starts with ("#", or "//" for DetectSyntax);
  // `line` is the number of lines already consumed before the first call.
  explicit DirectiveParser(std::string_view comment = "#", int line = 0)
      : comment_(comment), line_(line) {}

  // Feeds the next line (without its line ending). Returns the directive it holds, if any.
  // Errors: InvalidArgument "only one <name> parser directive can be used".
  Result<std::optional<Directive>> ParseLine(std::string_view line);

  bool done() const { return done_; }

 private:
  std::string comment_;
  int line_;
  bool done_ = false;
  std::set<std::string> seen_;
};

// --- Heredocs (heredoc.cc) ---

// heredocsFromLine with its error: a malformed heredoc word (an unterminated quote in the
// delimiter) is an error; a line the word lexer cannot read has no heredocs.
Result<std::vector<Heredoc>> HeredocsFromLineChecked(std::string_view line);

// --- Instruction lines (line_parsers.cc) ---

struct SplitLine {
  std::string keyword;             // as written, not lower-cased
  std::vector<std::string> flags;  // leading `--` words
  std::string args;                // the rest, trimmed
};

// Splits an instruction line into keyword, flags and arguments (BuildKit's splitCommand).
SplitLine SplitCommand(std::string_view line);

// Fills node->args and node->json from `args` according to the instruction `keyword`
// (lower-case), except ONBUILD, whose nested instruction the caller parses.
// Errors: InvalidArgument, e.g. "ENV must have two arguments" or a JSON array of non-strings.
Result<> ParseArguments(std::string_view keyword, std::string_view args, char escape_token,
                        Node* node);

}  // namespace berth::frontend::dockerfile::parser::internal
