// The Dockerfile parser: text -> AST, the first stage of the Dockerfile frontend.
//
// It follows BuildKit's frontend/dockerfile/parser: parser directives (`# syntax=`,
// `# escape=`, `# check=`), comments, line continuations (also across blank and comment lines
// and at end of file), heredocs (`<<EOF`, `<<-EOF`, quoted delimiters, several per line, fd
// numbers; only for RUN, COPY and ADD, and for those under ONBUILD), JSON (exec) form with
// BuildKit's fallback to shell form for invalid JSON, and per-instruction argument shapes.
// Flags (`--from=x`) are split off but not interpreted: the instructions layer does that.
//
// Where BuildKit's behaviour depends on Go library semantics (Unicode white space, invalid
// UTF-8, encoding/json's idea of valid JSON, strconv.Quote), the parser reproduces them. All
// functions are pure and safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::frontend::dockerfile::parser {

// One heredoc attached to an instruction.
struct Heredoc {
  std::string name;         // the delimiter, unquoted ("EOF")
  std::string content;      // the body lines as written, each with its line ending
  bool expand = true;       // false when the delimiter was quoted (no variable expansion)
  bool chomp = false;       // `<<-`: leading tabs are stripped (at instruction parse time)
  int file_descriptor = 0;  // `3<<EOF` gives 3; 0 when absent

  friend bool operator==(const Heredoc&, const Heredoc&) = default;
};

// One instruction.
struct Node {
  std::string keyword;                    // lower-case instruction name: "from", "run", ...
  std::vector<std::string> flags;         // leading `--name[=value]` words, verbatim
  std::vector<std::string> args;          // arguments in the shape described in testdata/README.md
  bool json = false;                      // arguments came from a JSON array (exec form)
  std::vector<Node> children;             // ONBUILD: exactly one nested instruction; else empty
  std::vector<Heredoc> heredocs;          // in order of appearance on the instruction line
  std::string original;                   // the instruction as written, continuations joined
  int start_line = 0;                     // 1-based, first line of the instruction
  int end_line = 0;                       // 1-based, last line (including heredoc bodies)
  std::vector<std::string> prev_comment;  // comment lines right above, without "# "
};

// A non-fatal finding, e.g. an empty continuation line (BuildKit warns about those).
struct Warning {
  std::string message;
  int line = 0;
};

// One parser directive found at the top of the file.
struct Directive {
  std::string name;  // lower-cased: "syntax", "escape", "check"
  std::string value;
  int line = 0;
};

struct Ast {
  std::vector<Node> children;
  char escape_token = '\\';
  std::vector<Directive> directives;
  std::vector<Warning> warnings;
};

// Parses a whole Dockerfile. `file_name` only labels errors: "Dockerfile:7: <message>".
// Errors: InvalidArgument for malformed input (bad escape directive, unterminated heredoc,
// a file with no instructions, ...). Never crashes on any input, and takes time linear in its
// size. Limits: a line may hold 65535 bytes (BuildKit's limit too); beyond BuildKit, ONBUILD
// may nest 64 deep and `${...}` forms in a heredoc line 64 deep (deeper nesting in such a line
// means it has no heredocs).
Result<Ast> Parse(std::string_view content, std::string_view file_name = "Dockerfile");

// Dumps the AST in the format of tests/testdata/parser-testfiles ("(from "busybox")\n...").
std::string Dump(const Ast& ast);

// Strips leading tab characters from every line (what `<<-` does).
std::string ChompHeredocContent(std::string_view content);

// The heredoc delimiters named on an instruction line, e.g. "RUN <<A cat <<'B'" -> {A, B}.
// Exposed for tests and for the instructions layer.
// A malformed heredoc word (an unterminated quote in the delimiter) yields no heredocs here;
// Parse reports it as an error.
std::vector<Heredoc> HeredocsFromLine(std::string_view line);

// Parses one heredoc word: "<<EOF", "3<<-'EOF'", "<< EOF" (as one word). The name loses its
// quotes; a quoted name (even in part) turns expansion off. Returns std::nullopt when the word
// is not a heredoc ("<<", "<<EOF sh", "<<<EOF").
// Errors: InvalidArgument for a malformed delimiter such as "<<'EOF".
Result<std::optional<Heredoc>> ParseHeredoc(std::string_view word);

// Splits the arguments of ENV, LABEL and ARG into words: white space separates words outside
// quotes, and quotes and escapes stay in the words verbatim (they are removed later, when the
// instructions layer expands the words). `escape_token` is '\\' or '`'.
std::vector<std::string> ParseWords(std::string_view args, char escape_token = '\\');

// Reads the parser directives at the top of a Dockerfile: `# name = value` lines naming
// syntax, escape or check (any case). The first other line, blank or comment ends them.
// Errors: InvalidArgument "only one <name> parser directive can be used".
Result<std::vector<Directive>> ParseDirectives(std::string_view content);

// A directive found by DetectSyntax or FindDirective.
struct DirectiveValue {
  std::string ref;      // the value up to its first space: "docker/dockerfile:1"
  std::string cmdline;  // the whole value: "docker/dockerfile:1 // options"
  int line = 0;         // 1-based; for the JSON form, 1 after a shebang line and 0 otherwise
};

// Finds the frontend a Dockerfile asks for, as BuildKit's DetectSyntax does: after skipping a
// UTF-8 BOM and a `#!` first line, a `# syntax=` directive, else a `// syntax=` one, else a
// file that is a JSON object with a string member "syntax".
std::optional<DirectiveValue> DetectSyntax(std::string_view content);

// Finds directive `name` (lower-case, e.g. "check") in the `# name=value` form only, skipping a
// UTF-8 BOM and a `#!` first line (BuildKit's ParseDirective).
std::optional<DirectiveValue> FindDirective(std::string_view name, std::string_view content);

}  // namespace berth::frontend::dockerfile::parser
