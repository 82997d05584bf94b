#include "frontend/dockerfile/parser/parser.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/gotext.h"
#include "frontend/dockerfile/parser/internal.h"

namespace berth::frontend::dockerfile::parser {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// BuildKit reads with a bufio.Scanner, which gives up on a line longer than this.
constexpr size_t kMaxLineLength = 64 * 1024 - 1;

// BuildKit nests ONBUILD without limit (and rejects nested ONBUILD one layer up). Nodes nest by
// value and are destroyed recursively, so the nesting a Dockerfile may use is bounded.
constexpr size_t kMaxOnbuildDepth = 64;

// Hands out the lines of a Dockerfile with their line endings, like BuildKit's scanner.
class LineScanner {
 public:
  explicit LineScanner(std::string_view content) : rest_(content) {}

  // Sets *line to the next line, "\n" included if present. False at the end of input or at a
  // line longer than kMaxLineLength, after which too_long() is true.
  bool Next(std::string_view* line) {
    if (rest_.empty() || too_long_) {
      return false;
    }
    size_t newline = rest_.find('\n');
    size_t length = newline == std::string_view::npos ? rest_.size() : newline;
    if (length > kMaxLineLength) {
      too_long_ = true;
      return false;
    }
    size_t take = newline == std::string_view::npos ? rest_.size() : newline + 1;
    *line = rest_.substr(0, take);
    rest_.remove_prefix(take);
    return true;
  }

  bool too_long() const { return too_long_; }

 private:
  std::string_view rest_;
  bool too_long_ = false;
};

// bytes.TrimRight(line, "\r\n").
std::string_view TrimNewline(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return line;
}

bool IsComment(std::string_view line) {
  return gotext::TrimLeftSpace(line).starts_with('#');
}

bool IsEmptyContinuationLine(std::string_view line) {
  return gotext::TrimLeftSpace(TrimNewline(line)).empty();
}

// Removes a line continuation: the escape token as the last character other than blanks and
// tabs, unless it is itself escaped. Returns true in `*end_of_line` when there is none.
std::string_view TrimContinuation(std::string_view line, char escape_token, bool* end_of_line) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
    --end;
  }
  *end_of_line = true;
  if (end == 0 || line[end - 1] != escape_token) {
    return line;
  }
  const size_t escape_pos = end - 1;
  if (escape_pos > 0 && line[escape_pos - 1] == escape_token) {
    return line;
  }
  *end_of_line = false;
  return line.substr(0, escape_pos);
}

Error ErrorAt(std::string_view file_name, int line, const std::string& message) {
  return Error::InvalidArgument(std::string(file_name) + ":" + std::to_string(line) + ": " +
                                message);
}

// Builds the node for one instruction line; ONBUILD's trigger becomes its only child.
Result<Node> NewNodeFromLine(std::string_view line, char escape_token) {
  std::vector<Node> onbuild_chain;
  std::string text(line);
  for (;;) {
    internal::SplitLine split = internal::SplitCommand(text);
    Node node;
    node.keyword = gotext::ToLower(split.keyword);
    node.flags = std::move(split.flags);
    node.original = std::move(text);
    if (node.keyword == "onbuild" && !split.args.empty()) {
      if (onbuild_chain.size() >= kMaxOnbuildDepth) {
        return Error::InvalidArgument("ONBUILD nested more than " +
                                      std::to_string(kMaxOnbuildDepth) + " levels deep");
      }
      onbuild_chain.push_back(std::move(node));
      text = std::move(split.args);
      continue;
    }
    // A bare ONBUILD has no trigger and no arguments; the instructions layer rejects it.
    if (node.keyword != "onbuild") {
      BERTH_TRY(internal::ParseArguments(node.keyword, split.args, escape_token, &node));
    }
    while (!onbuild_chain.empty()) {
      Node parent = std::move(onbuild_chain.back());
      onbuild_chain.pop_back();
      parent.children.push_back(std::move(node));
      node = std::move(parent);
    }
    return node;
  }
}

// Heredocs belong to RUN, COPY and ADD in shell form, also as an ONBUILD trigger.
bool CanContainHeredoc(const Node& node) {
  const Node* target = &node;
  if (node.keyword == "onbuild" && !node.children.empty()) {
    target = &node.children.front();
  }
  const std::string& keyword = target->keyword;
  return (keyword == "run" || keyword == "copy" || keyword == "add") && !target->json;
}

void SetLines(Node* node, int start_line, int end_line) {
  node->start_line = start_line;
  node->end_line = end_line;
  for (Node& child : node->children) {
    SetLines(&child, start_line, end_line);
  }
}

std::string DumpNode(const Node& node) {
  std::string out = node.keyword;
  if (!node.flags.empty()) {
    out += " [";
    for (size_t i = 0; i < node.flags.size(); ++i) {
      if (i > 0) {
        out += ' ';
      }
      out += gotext::Quote(node.flags[i]);
    }
    out += ']';
  }
  for (const std::string& arg : node.args) {
    out += ' ';
    out += gotext::Quote(arg);
  }
  for (const Node& child : node.children) {
    out += " (";
    out += DumpNode(child);
    out += ')';
  }
  return std::string(gotext::TrimSpace(out));
}

}  // namespace

Result<Ast> Parse(std::string_view content, std::string_view file_name) {
  Ast ast;
  internal::DirectiveParser directives;
  LineScanner scanner(content);
  std::vector<std::string> comments;
  int current_line = 0;
  std::string_view raw;
  while (scanner.Next(&raw)) {
    std::string_view bytes = raw;
    if (current_line == 0 && bytes.starts_with(kUtf8Bom)) {
      bytes.remove_prefix(kUtf8Bom.size());
    }
    if (IsComment(bytes)) {
      // BuildKit drops the first byte of the line, not the `#` (they differ when the comment
      // is indented).
      std::string_view comment = gotext::TrimSpace(bytes.substr(1));
      if (comment.empty()) {
        comments.clear();
      } else {
        comments.emplace_back(comment);
      }
    }

    std::string_view token = gotext::TrimLeftSpace(TrimNewline(bytes));
    Result<std::optional<Directive>> directive = directives.ParseLine(token);
    if (!directive.ok()) {
      return ErrorAt(file_name, current_line + 1, directive.error().message());
    }
    if (directive->has_value()) {
      if ((*directive)->name == "escape") {
        const std::string& value = (*directive)->value;
        if (value != "\\" && value != "`") {
          return ErrorAt(file_name, current_line + 1,
                         "invalid escape token '" + value + "' does not match ` or \\");
        }
        ast.escape_token = value[0];
      }
      if (!comments.empty()) {
        comments.pop_back();  // a directive is not a comment on the next instruction
      }
      ast.directives.push_back(std::move(**directive));
    }
    if (IsComment(token)) {
      token = {};
    }
    ++current_line;

    const int start_line = current_line;
    bool end_of_line = true;
    token = TrimContinuation(token, ast.escape_token, &end_of_line);
    if (end_of_line && token.empty()) {
      continue;
    }
    std::string line(token);
    bool has_empty_continuation_line = false;
    while (!end_of_line && scanner.Next(&raw)) {
      ++current_line;
      if (IsComment(raw)) {
        continue;
      }
      std::string_view continuation = TrimNewline(raw);
      if (IsEmptyContinuationLine(continuation)) {
        has_empty_continuation_line = true;
        continue;
      }
      line += TrimContinuation(continuation, ast.escape_token, &end_of_line);
    }
    if (has_empty_continuation_line) {
      ast.warnings.push_back({"Empty continuation line found in: " + line, current_line});
    }

    Result<Node> parsed = NewNodeFromLine(line, ast.escape_token);
    if (!parsed.ok()) {
      return ErrorAt(file_name, start_line, parsed.error().message());
    }
    Node child = std::move(parsed).value();
    child.prev_comment = std::move(comments);
    comments.clear();

    if (CanContainHeredoc(child) && line.find("<<") != std::string::npos) {
      Result<std::vector<Heredoc>> heredocs = internal::HeredocsFromLineChecked(line);
      if (!heredocs.ok()) {
        return ErrorAt(file_name, start_line, heredocs.error().message());
      }
      // The bodies follow the instruction line one after another, each up to its own
      // terminator, and are kept byte for byte (line endings included).
      for (Heredoc& heredoc : *heredocs) {
        bool terminated = false;
        while (scanner.Next(&raw)) {
          ++current_line;
          std::string_view candidate = TrimNewline(raw);
          if (heredoc.chomp) {
            candidate.remove_prefix(std::min(candidate.find_first_not_of('\t'), candidate.size()));
          }
          if (candidate == heredoc.name) {
            terminated = true;
            break;
          }
          heredoc.content += raw;
        }
        if (!terminated) {
          return ErrorAt(file_name, start_line, "unterminated heredoc");
        }
        child.heredocs.push_back(std::move(heredoc));
      }
    }

    SetLines(&child, start_line, current_line);
    ast.children.push_back(std::move(child));
  }

  if (ast.children.empty()) {
    return ErrorAt(file_name, std::max(current_line, 1), "file with no instructions");
  }
  if (scanner.too_long()) {
    return ErrorAt(
        file_name, current_line + 1,
        "dockerfile line greater than max allowed size of " + std::to_string(kMaxLineLength));
  }
  return ast;
}

std::string Dump(const Ast& ast) {
  std::string out;
  for (const Node& child : ast.children) {
    out += '(';
    out += DumpNode(child);
    out += ")\n";
  }
  std::string dump(gotext::TrimSpace(out));
  dump += '\n';
  return dump;
}

}  // namespace berth::frontend::dockerfile::parser
