// libFuzzer target for the Dockerfile parser (frontend/dockerfile/parser), which reads untrusted
// Dockerfiles.
//
// The whole input is parsed and dumped; the helpers that take pieces of a Dockerfile (word
// splitting, heredoc words, directive detection) get the input too. Besides crashes, hangs and
// sanitizer reports, the target traps when a successful parse breaks the AST's invariants.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "frontend/dockerfile/parser/parser.h"

namespace {

namespace parser = berth::frontend::dockerfile::parser;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void CheckNode(const parser::Node& node, int previous_end) {
  Check(node.start_line > previous_end);
  Check(node.end_line >= node.start_line);
  Check(node.children.size() <= 1);
  Check(node.children.empty() || node.keyword == "onbuild");
  for (const parser::Heredoc& heredoc : node.heredocs) {
    Check(!heredoc.name.empty());
    Check(heredoc.file_descriptor >= 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  berth::Result<parser::Ast> ast = parser::Parse(input, "Dockerfile");
  if (ast.ok()) {
    Check(!ast->children.empty());
    Check(ast->escape_token == '\\' || ast->escape_token == '`');
    int previous_end = 0;
    for (const parser::Node& node : ast->children) {
      CheckNode(node, previous_end);
      previous_end = node.end_line;
    }
    const std::string dump = parser::Dump(*ast);
    Check(dump.starts_with("(") && dump.ends_with(")\n"));
  } else {
    Check(ast.error().message().starts_with("Dockerfile:"));
  }

  // Keep the per-line helpers to one line's worth of input, as the parser calls them.
  const std::string_view line = input.substr(0, std::min<size_t>(input.find('\n'), 4096));
  (void)parser::ParseWords(line, '\\');
  (void)parser::ParseWords(line, '`');
  for (const parser::Heredoc& heredoc : parser::HeredocsFromLine(line)) {
    Check(!heredoc.name.empty());
  }
  (void)parser::ParseHeredoc(line);
  (void)parser::ChompHeredocContent(line);
  (void)parser::DetectSyntax(input);
  (void)parser::FindDirective("check", input);
  (void)parser::ParseDirectives(input);
  return 0;
}
