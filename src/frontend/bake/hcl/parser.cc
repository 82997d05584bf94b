// A recursive-descent parser over an on-demand tokenizer. Strings and heredocs are read a
// character at a time by the template parser, which calls back into the expression parser for
// each `${...}` and `%{...}`, so the tokenizer needs no modes. Newlines end attributes in a body
// and separate object items; inside (), [], call arguments and interpolations they are white
// space, which the parser expresses with a stack of "newlines ignored" flags.
#include "frontend/bake/hcl/parser.h"

#include <algorithm>
#include <array>
#include <set>

#include "base/gotext.h"
#include "base/strings.h"

namespace berth::frontend::bake::hcl {

namespace {

enum class Tok { kEof, kNewline, kIdent, kNumber, kOQuote, kOHeredoc, kPunct, kInvalid };

struct Token {
  Tok kind = Tok::kEof;
  std::string_view text;
  size_t start = 0;
  size_t end = 0;

  bool Is(std::string_view punct) const { return kind == Tok::kPunct && text == punct; }
  bool IsKeyword(std::string_view word) const { return kind == Tok::kIdent && text == word; }
};

bool IsIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool IsIdentChar(unsigned char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-';
}

bool IsDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEof:
      return "end of file";
    case Tok::kNewline:
      return "newline";
    case Tok::kOQuote:
      return "a quoted string";
    case Tok::kOHeredoc:
      return "a heredoc";
    default:
      return QuoteString(t.text);
  }
}

constexpr int kMaxHeight = 256;

class Parser {
 public:
  Parser(std::string_view src, std::string_view file_name, const ParseLimits& limits,
         const Pos& origin = {})
      : src_(src),
        file_(std::make_shared<const std::string>(file_name)),
        limits_(limits),
        origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  Result<File> ParseFile() {
    BERTH_TRY(CheckSize());
    File file;
    file.name = *file_;
    file.body = BERTH_TRY(ParseBody(/*top=*/true, 0));
    return file;
  }

  Result<ExprPtr> ParseWholeExpression() {
    BERTH_TRY(CheckSize());
    ignore_newlines_.push_back(true);
    ExprPtr e = BERTH_TRY(ParseExpr());
    Token t = Peek();
    if (t.kind != Tok::kEof) {
      return Err(t.start, t.end, "Extra characters after expression",
                 "Expected the end of the expression, but found " + Describe(t) + ".");
    }
    return e;
  }

  Result<ExprPtr> ParseBareTemplate() {
    BERTH_TRY(CheckSize());
    return ParseTemplateAt(TemplateMode::kBare, 0, "");
  }

 private:
  enum class TemplateMode { kQuoted, kHeredoc, kBare };
  enum class TemplateEnd { kEnd, kElse, kEndIf, kEndFor };

  // Increments the nesting depth for the lifetime of the guard.
  class DepthGuard {
   public:
    explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
    ~DepthGuard() { --*depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    DepthGuard(DepthGuard&&) = delete;
    DepthGuard& operator=(DepthGuard&&) = delete;

   private:
    int* depth_;
  };

  // Pushes a newline mode for the lifetime of the guard.
  class NewlineGuard {
   public:
    NewlineGuard(std::vector<bool>* stack, bool ignore) : stack_(stack) {
      stack_->push_back(ignore);
    }
    ~NewlineGuard() { stack_->pop_back(); }
    NewlineGuard(const NewlineGuard&) = delete;
    NewlineGuard& operator=(const NewlineGuard&) = delete;
    NewlineGuard(NewlineGuard&&) = delete;
    NewlineGuard& operator=(NewlineGuard&&) = delete;

   private:
    std::vector<bool>* stack_;
  };

  Result<> CheckSize() const {
    if (src_.size() > limits_.max_source_bytes) {
      return Error::InvalidArgument(*file_ + ": file is larger than " +
                                    std::to_string(limits_.max_source_bytes) + " bytes");
    }
    return {};
  }

  Result<> CheckDepth(size_t at) {
    if (depth_ > limits_.max_depth) {
      return Err(at, at, "Nesting too deep",
                 "Expressions, templates and blocks may nest at most " +
                     std::to_string(limits_.max_depth) + " levels deep.");
    }
    return {};
  }

  Pos PosAt(size_t byte) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), byte);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    Pos p;
    p.line = static_cast<int>(line) + origin_.line - 1;
    p.column = static_cast<int>(byte - line_starts_[line - 1]) + 1;
    if (line == 1) {
      p.column += origin_.column - 1;
    }
    p.byte = byte + origin_.byte;
    return p;
  }

  Range RangeOf(size_t start, size_t end) const {
    return Range{file_, PosAt(start), PosAt(std::max(start, end))};
  }

  Error Err(size_t start, size_t end, std::string_view summary, std::string_view detail) const {
    return LocatedError(RangeOf(start, end), summary, detail);
  }

  // ---- tokenizer ----

  // Skips blanks and comments (not newlines) from `at`; returns the position of the next token
  // or an error position for an unterminated comment (via *bad).
  size_t SkipSpace(size_t at, bool* bad) const {
    while (at < src_.size()) {
      const char c = src_[at];
      if (c == ' ' || c == '\t' || (c == '\r' && at + 1 < src_.size() && src_[at + 1] == '\n')) {
        ++at;
      } else if (c == '#' || (c == '/' && at + 1 < src_.size() && src_[at + 1] == '/')) {
        while (at < src_.size() && src_[at] != '\n') {
          ++at;
        }
      } else if (c == '/' && at + 1 < src_.size() && src_[at + 1] == '*') {
        const size_t close = src_.find("*/", at + 2);
        if (close == std::string_view::npos) {
          *bad = true;
          return at;
        }
        at = close + 2;
      } else {
        break;
      }
    }
    return at;
  }

  Token Lex(size_t at) const {
    bool bad = false;
    at = SkipSpace(at, &bad);
    Token t;
    t.start = at;
    if (bad) {
      t.kind = Tok::kInvalid;
      t.end = src_.size();
      t.text = src_.substr(at);
      return t;
    }
    if (at >= src_.size()) {
      t.kind = Tok::kEof;
      t.end = at;
      return t;
    }
    const auto c = static_cast<unsigned char>(src_[at]);
    size_t end = at + 1;
    if (c == '\n') {
      t.kind = Tok::kNewline;
    } else if (IsIdentStart(c)) {
      while (end < src_.size() && IsIdentChar(static_cast<unsigned char>(src_[end]))) {
        ++end;
      }
      t.kind = Tok::kIdent;
    } else if (IsDigit(c)) {
      while (end < src_.size() && IsDigit(static_cast<unsigned char>(src_[end]))) {
        ++end;
      }
      if (end + 1 < src_.size() && src_[end] == '.' &&
          IsDigit(static_cast<unsigned char>(src_[end + 1]))) {
        end += 1;
        while (end < src_.size() && IsDigit(static_cast<unsigned char>(src_[end]))) {
          ++end;
        }
      }
      if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
        size_t e = end + 1;
        if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) {
          ++e;
        }
        if (e < src_.size() && IsDigit(static_cast<unsigned char>(src_[e]))) {
          while (e < src_.size() && IsDigit(static_cast<unsigned char>(src_[e]))) {
            ++e;
          }
          end = e;
        }
      }
      t.kind = Tok::kNumber;
    } else if (c == '"') {
      t.kind = Tok::kOQuote;
    } else if (c == '<' && src_.substr(at, 2) == "<<") {
      size_t e = at + 2;
      if (e < src_.size() && src_[e] == '-') {
        ++e;
      }
      if (e < src_.size() && IsIdentStart(static_cast<unsigned char>(src_[e]))) {
        while (e < src_.size() && IsIdentChar(static_cast<unsigned char>(src_[e]))) {
          ++e;
        }
        t.kind = Tok::kOHeredoc;
        end = e;
      } else {
        t.kind = Tok::kInvalid;
        end = at + 2;
      }
    } else {
      static constexpr std::array<std::string_view, 8> kLong = {
          "...", "==", "!=", "<=", ">=", "&&", "||", "=>"};
      t.kind = Tok::kInvalid;
      for (std::string_view p : kLong) {
        if (src_.substr(at, p.size()) == p) {
          t.kind = Tok::kPunct;
          end = at + p.size();
          break;
        }
      }
      if (t.kind == Tok::kInvalid) {
        static constexpr std::string_view kShort = "+-*/%<>!=?:,.[](){}~";
        if (kShort.find(static_cast<char>(c)) != std::string_view::npos) {
          t.kind = Tok::kPunct;
        }
      }
    }
    t.end = end;
    t.text = src_.substr(at, end - at);
    return t;
  }

  bool IgnoringNewlines() const { return !ignore_newlines_.empty() && ignore_newlines_.back(); }

  Token Peek() const {
    Token t = Lex(pos_);
    if (IgnoringNewlines()) {
      while (t.kind == Tok::kNewline) {
        t = Lex(t.end);
      }
    }
    return t;
  }

  // The token after `t`, with the current newline mode.
  Token PeekAfter(const Token& t) const {
    Token n = Lex(t.end);
    if (IgnoringNewlines()) {
      while (n.kind == Tok::kNewline) {
        n = Lex(n.end);
      }
    }
    return n;
  }

  Token Next() {
    Token t = Peek();
    pos_ = t.end;
    return t;
  }

  Result<Token> Expect(std::string_view punct, std::string_view summary) {
    Token t = Peek();
    if (!t.Is(punct)) {
      return Err(t.start, t.end, summary,
                 "Expected " + QuoteString(punct) + ", but found " + Describe(t) + ".");
    }
    return Next();
  }

  void SkipNewlines() {
    Token t = Lex(pos_);
    while (t.kind == Tok::kNewline) {
      pos_ = t.end;
      t = Lex(pos_);
    }
  }

  // ---- nodes ----

  std::shared_ptr<Expr> Node(ExprKind kind, size_t start, size_t end) const {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->range = RangeOf(start, end);
    return e;
  }

  // Adds children and checks the tree height (the evaluator recurses once per level).
  Result<ExprPtr> Finish(std::shared_ptr<Expr> e) const {
    int height = 0;
    for (const ExprPtr& c : e->children) {
      if (c) {
        height = std::max(height, c->height);
      }
    }
    e->height = height + 1;
    if (e->height > kMaxHeight) {
      return LocatedError(
          e->range, "Expression too complex",
          "Expressions may nest at most " + std::to_string(kMaxHeight) + " operations deep.");
    }
    return ExprPtr(std::move(e));
  }

  // ---- bodies ----

  Result<Body> ParseBody(bool top, size_t start) {
    DepthGuard depth(&depth_);
    BERTH_TRY(CheckDepth(pos_));
    NewlineGuard nl(&ignore_newlines_, false);
    Body body;
    std::set<std::string, std::less<>> names;
    while (true) {
      SkipNewlines();
      Token t = Peek();
      if (t.kind == Tok::kEof) {
        if (!top) {
          return Err(start, start + 1, "Unclosed configuration block",
                     "There is no closing brace for this block before the end of the file.");
        }
        break;
      }
      if (t.Is("}")) {
        if (top) {
          return Err(t.start, t.end, "Argument or block definition required",
                     "An argument or block definition is required here.");
        }
        break;
      }
      if (t.kind != Tok::kIdent) {
        return Err(t.start, t.end, "Argument or block definition required",
                   "An argument or block definition is required here; found " + Describe(t) + ".");
      }
      Next();
      Token after = Peek();
      if (after.Is("=")) {
        Next();
        Attribute attr;
        attr.name = std::string(t.text);
        attr.name_range = RangeOf(t.start, t.end);
        attr.expr = BERTH_TRY(ParseExpr());
        attr.range = RangeOf(t.start, pos_);
        if (!names.insert(attr.name).second) {
          const Attribute* prev = body.FindAttribute(attr.name);
          return LocatedError(attr.name_range, "Attribute redefined",
                              "The argument " + QuoteString(attr.name) + " was already set at " +
                                  prev->name_range.ToString() +
                                  ". Each argument may be set only once.");
        }
        body.attributes.push_back(std::move(attr));
        BERTH_TRY(ExpectItemEnd(top, "Missing newline after argument",
                                "An argument definition must end with a newline."));
        continue;
      }
      Block block;
      block.type = std::string(t.text);
      block.type_range = RangeOf(t.start, t.end);
      while (true) {
        Token label = Peek();
        if (label.kind == Tok::kIdent) {
          Next();
          block.labels.emplace_back(label.text);
          block.label_ranges.push_back(RangeOf(label.start, label.end));
        } else if (label.kind == Tok::kOQuote) {
          Next();
          ExprPtr tmpl = BERTH_TRY(ParseTemplateAt(TemplateMode::kQuoted, label.start, ""));
          if (tmpl->kind != ExprKind::kLiteral) {
            return LocatedError(tmpl->range, "Invalid block label",
                                "Template sequences are not allowed in block labels.");
          }
          block.labels.push_back(tmpl->literal.AsString());
          block.label_ranges.push_back(tmpl->range);
        } else {
          break;
        }
      }
      Token open = Peek();
      if (!open.Is("{")) {
        return Err(open.start, open.end, "Invalid block definition",
                   "Either a quoted string block label or an opening brace (\"{\") is expected "
                   "here.");
      }
      Next();
      block.body = BERTH_TRY(ParseBody(/*top=*/false, open.start));
      Token close = Next();  // the "}" ParseBody stopped at
      block.range = RangeOf(t.start, close.end);
      block.body.range = RangeOf(open.start, close.end);
      body.blocks.push_back(std::move(block));
      BERTH_TRY(ExpectItemEnd(top, "Missing newline after block definition",
                              "A block definition must end with a newline."));
    }
    body.range = RangeOf(start, pos_);
    return body;
  }

  Result<> ExpectItemEnd(bool top, std::string_view summary, std::string_view detail) {
    Token t = Peek();
    if (t.kind == Tok::kNewline) {
      Next();
      return {};
    }
    if (t.kind == Tok::kEof || (!top && t.Is("}"))) {
      return {};
    }
    return Err(t.start, t.end, summary, std::string(detail) + " Found " + Describe(t) + ".");
  }

  // ---- expressions ----

  Result<ExprPtr> ParseExpr() {
    DepthGuard depth(&depth_);
    BERTH_TRY(CheckDepth(pos_));
    const size_t start = Peek().start;
    ExprPtr cond = BERTH_TRY(ParseBinary(0));
    if (!Peek().Is("?")) {
      return cond;
    }
    Next();
    ExprPtr yes = BERTH_TRY(ParseExpr());
    BERTH_TRY(Expect(":", "Missing false expression in conditional"));
    ExprPtr no = BERTH_TRY(ParseExpr());
    auto e = Node(ExprKind::kConditional, start, pos_);
    e->children = {cond, yes, no};
    return Finish(e);
  }

  Result<ExprPtr> ParseBinary(int level) {
    static constexpr std::array<std::array<std::string_view, 4>, 6> kLevels = {{
        {"||"},
        {"&&"},
        {"==", "!="},
        {"<", ">", "<=", ">="},
        {"+", "-"},
        {"*", "/", "%"},
    }};
    if (level == static_cast<int>(kLevels.size())) {
      return ParseUnary();
    }
    const size_t start = Peek().start;
    ExprPtr lhs = BERTH_TRY(ParseBinary(level + 1));
    while (true) {
      Token t = Peek();
      if (t.kind != Tok::kPunct) {
        break;
      }
      const auto& ops = kLevels[static_cast<size_t>(level)];
      if (std::find(ops.begin(), ops.end(), t.text) == ops.end()) {
        break;
      }
      Next();
      ExprPtr rhs = BERTH_TRY(ParseBinary(level + 1));
      auto e = Node(ExprKind::kBinary, start, pos_);
      e->op = std::string(t.text);
      e->children = {lhs, rhs};
      lhs = BERTH_TRY(Finish(e));
    }
    return lhs;
  }

  Result<ExprPtr> ParseUnary() {
    Token t = Peek();
    if (t.Is("-") || t.Is("!")) {
      DepthGuard depth(&depth_);
      BERTH_TRY(CheckDepth(t.start));
      Next();
      ExprPtr operand = BERTH_TRY(ParseUnary());
      if (t.Is("-") && operand->kind == ExprKind::kLiteral && operand->literal.is_number()) {
        auto e = Node(ExprKind::kLiteral, t.start, pos_);
        e->literal = Value::Number(-operand->literal.AsNumber());
        return Finish(e);
      }
      auto e = Node(ExprKind::kUnary, t.start, pos_);
      e->op = std::string(t.text);
      e->children = {operand};
      return Finish(e);
    }
    return ParsePostfix();
  }

  Result<ExprPtr> ParsePostfix() {
    const size_t start = Peek().start;
    ExprPtr e = BERTH_TRY(ParsePrimary());
    while (true) {
      Token t = Peek();
      if (t.Is(".")) {
        Token n = PeekAfter(t);
        if (n.Is("*")) {
          Next();
          Next();
          e = BERTH_TRY(ParseSplat(e, start, /*full=*/false));
          continue;
        }
        Next();
        e = BERTH_TRY(ParseAttrStep(e, start));
      } else if (t.Is("[")) {
        Next();
        NewlineGuard nl(&ignore_newlines_, true);
        if (Peek().Is("*")) {
          Next();
          BERTH_TRY(Expect("]", "Missing close bracket on splat index"));
          e = BERTH_TRY(ParseSplat(e, start, /*full=*/true));
          continue;
        }
        ExprPtr key = BERTH_TRY(ParseExpr());
        BERTH_TRY(Expect("]", "Missing close bracket on index"));
        auto idx = Node(ExprKind::kIndex, start, pos_);
        idx->children = {e, key};
        e = BERTH_TRY(Finish(idx));
      } else {
        break;
      }
    }
    return e;
  }

  // After a ".": an attribute name or a legacy numeric index (`foo.0`).
  Result<ExprPtr> ParseAttrStep(const ExprPtr& source, size_t start) {
    Token n = Next();
    if (n.kind == Tok::kIdent) {
      auto g = Node(ExprKind::kGetAttr, start, pos_);
      g->name = std::string(n.text);
      g->children = {source};
      return Finish(g);
    }
    if (n.kind == Tok::kNumber &&
        n.text.find_first_not_of("0123456789") == std::string_view::npos) {
      auto key = Node(ExprKind::kLiteral, n.start, n.end);
      key->literal = Value::Number(ParseNumber(n.text).value_or(0));
      auto idx = Node(ExprKind::kIndex, start, pos_);
      idx->children = {source, BERTH_TRY(Finish(key))};
      return Finish(idx);
    }
    return Err(n.start, n.end, "Invalid attribute name",
               "An attribute name is required after a dot; found " + Describe(n) + ".");
  }

  // `source.*.a.b` (attribute-only) or `source[*].a[0]` (full): the traversal after the splat
  // applies to each element.
  Result<ExprPtr> ParseSplat(ExprPtr source, size_t start, bool full) {
    const size_t item_start = pos_;
    ExprPtr each = BERTH_TRY(Finish(Node(ExprKind::kSplatItem, item_start, item_start)));
    while (true) {
      Token t = Peek();
      if (t.Is(".")) {
        Token n = PeekAfter(t);
        if (n.Is("*")) {
          break;
        }
        Next();
        each = BERTH_TRY(ParseAttrStep(each, item_start));
      } else if (full && t.Is("[")) {
        Token n = PeekAfter(t);
        if (n.Is("*")) {
          break;
        }
        Next();
        NewlineGuard nl(&ignore_newlines_, true);
        ExprPtr key = BERTH_TRY(ParseExpr());
        BERTH_TRY(Expect("]", "Missing close bracket on index"));
        auto idx = Node(ExprKind::kIndex, item_start, pos_);
        idx->children = {each, key};
        each = BERTH_TRY(Finish(idx));
      } else {
        break;
      }
    }
    auto s = Node(ExprKind::kSplat, start, pos_);
    s->children = {std::move(source), each};
    return Finish(s);
  }

  Result<ExprPtr> ParsePrimary() {
    Token t = Peek();
    switch (t.kind) {
      case Tok::kNumber: {
        Next();
        std::optional<double> n = ParseNumber(t.text);
        if (!n) {
          return Err(t.start, t.end, "Invalid number literal",
                     "Failed to recognize the value of this number literal.");
        }
        auto e = Node(ExprKind::kLiteral, t.start, t.end);
        e->literal = Value::Number(*n);
        return Finish(e);
      }
      case Tok::kIdent: {
        Next();
        if (t.text == "true" || t.text == "false" || t.text == "null") {
          auto e = Node(ExprKind::kLiteral, t.start, t.end);
          e->literal = t.text == "null" ? Value::Null() : Value::Bool(t.text == "true");
          return Finish(e);
        }
        if (Lex(pos_).Is("(")) {
          return ParseCall(t);
        }
        auto e = Node(ExprKind::kVariable, t.start, t.end);
        e->name = std::string(t.text);
        return Finish(e);
      }
      case Tok::kOQuote:
        Next();
        return ParseTemplateAt(TemplateMode::kQuoted, t.start, "");
      case Tok::kOHeredoc:
        Next();
        return ParseHeredoc(t);
      case Tok::kPunct:
        if (t.Is("(")) {
          Next();
          NewlineGuard nl(&ignore_newlines_, true);
          ExprPtr inner = BERTH_TRY(ParseExpr());
          BERTH_TRY(Expect(")", "Unbalanced parentheses"));
          auto e = Node(ExprKind::kParens, t.start, pos_);
          e->children = {inner};
          return Finish(e);
        }
        if (t.Is("[")) {
          Next();
          return ParseTuple(t);
        }
        if (t.Is("{")) {
          Next();
          return ParseObject(t);
        }
        break;
      default:
        break;
    }
    return Err(t.start, t.end, "Invalid expression",
               "Expected the start of an expression, but found " + Describe(t) + ".");
  }

  Result<ExprPtr> ParseCall(const Token& name) {
    Next();  // "("
    NewlineGuard nl(&ignore_newlines_, true);
    auto e = Node(ExprKind::kCall, name.start, name.end);
    e->name = std::string(name.text);
    while (!Peek().Is(")")) {
      if (Peek().kind == Tok::kEof) {
        Token t = Peek();
        return Err(t.start, t.end, "Unterminated function call",
                   "There is no closing parenthesis for this function call.");
      }
      e->children.push_back(BERTH_TRY(ParseExpr()));
      Token t = Peek();
      if (t.Is("...")) {
        Next();
        e->expand_final = true;
        if (!Peek().Is(")")) {
          Token u = Peek();
          return Err(u.start, u.end, "Missing closing parenthesis",
                     "An expanded function argument (with ...) must be immediately followed by "
                     "closing parentheses.");
        }
        break;
      }
      if (t.Is(",")) {
        Next();
        continue;
      }
      if (!t.Is(")")) {
        return Err(t.start, t.end, "Missing argument separator",
                   "A comma is required to separate each function argument from the next.");
      }
    }
    Next();  // ")"
    e->range = RangeOf(name.start, pos_);
    return Finish(e);
  }

  Result<ExprPtr> ParseTuple(const Token& open) {
    NewlineGuard nl(&ignore_newlines_, true);
    if (Peek().IsKeyword("for")) {
      return ParseFor(open, /*object_form=*/false);
    }
    auto e = Node(ExprKind::kTuple, open.start, open.end);
    while (!Peek().Is("]")) {
      Token t = Peek();
      if (t.kind == Tok::kEof) {
        return Err(t.start, t.end, "Unterminated tuple constructor expression",
                   "There is no corresponding closing bracket before the end of the file.");
      }
      e->children.push_back(BERTH_TRY(ParseExpr()));
      Token sep = Peek();
      if (sep.Is(",")) {
        Next();
      } else if (!sep.Is("]")) {
        return Err(sep.start, sep.end, "Missing item separator",
                   "Expected a comma to mark the beginning of the next item.");
      }
    }
    Next();
    e->range = RangeOf(open.start, pos_);
    return Finish(e);
  }

  Result<ExprPtr> ParseObject(const Token& open) {
    {
      NewlineGuard probe(&ignore_newlines_, true);
      if (Peek().IsKeyword("for")) {
        return ParseFor(open, /*object_form=*/true);
      }
    }
    NewlineGuard nl(&ignore_newlines_, false);
    auto e = Node(ExprKind::kObject, open.start, open.end);
    while (true) {
      SkipNewlines();
      Token t = Peek();
      if (t.Is("}")) {
        Next();
        break;
      }
      if (t.kind == Tok::kEof) {
        return Err(open.start, open.end, "Unterminated object constructor expression",
                   "There is no corresponding closing brace before the end of the file.");
      }
      ExprPtr key;
      {
        NewlineGuard key_nl(&ignore_newlines_, true);
        key = BERTH_TRY(ParseExpr());
      }
      if (key->kind == ExprKind::kVariable) {
        auto lit = Node(ExprKind::kLiteral, t.start, t.end);
        lit->range = key->range;
        lit->literal = Value::String(key->name);
        key = BERTH_TRY(Finish(lit));
      }
      Token eq = Peek();
      if (!eq.Is("=") && !eq.Is(":")) {
        return Err(eq.start, eq.end, "Missing key/value separator",
                   "Expected an equals sign (\"=\") to mark the beginning of the attribute "
                   "value.");
      }
      Next();
      ExprPtr value;
      {
        NewlineGuard value_nl(&ignore_newlines_, false);
        value = BERTH_TRY(ParseExpr());
      }
      e->children.push_back(key);
      e->children.push_back(value);
      Token sep = Peek();
      if (sep.Is(",") || sep.kind == Tok::kNewline) {
        Next();
      } else if (!sep.Is("}")) {
        return Err(sep.start, sep.end, "Missing attribute separator",
                   "Expected a newline or comma to mark the beginning of the next attribute.");
      }
    }
    e->range = RangeOf(open.start, pos_);
    return Finish(e);
  }

  Result<std::string> ExpectIdent(std::string_view what) {
    Token t = Peek();
    if (t.kind != Tok::kIdent) {
      return Err(t.start, t.end, "Invalid 'for' expression",
                 std::string(what) + " is required here; found " + Describe(t) + ".");
    }
    Next();
    return std::string(t.text);
  }

  // After "for": `k, v in coll` (or `v in coll`) into e's key_var and value_var; returns coll.
  Result<ExprPtr> ParseForHeader(Expr* e, std::string_view summary) {
    std::string first = BERTH_TRY(ExpectIdent("An iteration variable name"));
    if (Peek().Is(",")) {
      Next();
      e->key_var = std::move(first);
      e->value_var = BERTH_TRY(ExpectIdent("A value variable name"));
    } else {
      e->value_var = std::move(first);
    }
    Token in = Peek();
    if (!in.IsKeyword("in")) {
      return Err(in.start, in.end, summary,
                 "The 'in' keyword is expected after the iteration variables.");
    }
    Next();
    return ParseExpr();
  }

  // After "[" or "{": `for k, v in coll : ... if cond` and the closing bracket.
  Result<ExprPtr> ParseFor(const Token& open, bool object_form) {
    NewlineGuard nl(&ignore_newlines_, true);
    Next();  // "for"
    auto e = Node(ExprKind::kFor, open.start, open.end);
    e->object_for = object_form;
    ExprPtr coll = BERTH_TRY(ParseForHeader(e.get(), "Invalid 'for' expression"));
    BERTH_TRY(Expect(":", "Invalid 'for' expression"));
    ExprPtr key;
    ExprPtr value = BERTH_TRY(ParseExpr());
    if (object_form) {
      BERTH_TRY(Expect("=>", "Invalid 'for' expression"));
      key = value;
      value = BERTH_TRY(ParseExpr());
      if (Peek().Is("...")) {
        Next();
        e->grouping = true;
      }
    }
    ExprPtr cond;
    if (Peek().IsKeyword("if")) {
      Next();
      cond = BERTH_TRY(ParseExpr());
    }
    BERTH_TRY(Expect(object_form ? "}" : "]", "Invalid 'for' expression"));
    e->children = {coll, key, value, cond};
    e->range = RangeOf(open.start, pos_);
    return Finish(e);
  }

  // ---- templates ----

  Result<ExprPtr> ParseHeredoc(const Token& intro) {
    std::string_view marker = intro.text.substr(2);
    const bool flush = !marker.empty() && marker.front() == '-';
    if (flush) {
      marker.remove_prefix(1);
    }
    size_t at = pos_;
    if (at < src_.size() && src_[at] == '\r') {
      ++at;
    }
    if (at >= src_.size() || src_[at] != '\n') {
      return Err(intro.start, intro.end, "Invalid heredoc introducer",
                 "A heredoc introducer must be followed directly by a newline.");
    }
    pos_ = at + 1;
    ExprPtr tmpl = BERTH_TRY(ParseTemplateAt(TemplateMode::kHeredoc, intro.start, marker));
    if (!flush) {
      return tmpl;
    }
    if (tmpl->kind == ExprKind::kLiteral) {
      // One literal: flush it as a template of one part, then unwrap again.
      auto wrapper = std::make_shared<Expr>(*tmpl);
      wrapper->kind = ExprKind::kTemplate;
      wrapper->literal = Value();
      wrapper->children = {tmpl};
      ExprPtr flushed = BERTH_TRY(FlushHeredoc(wrapper));
      return flushed->children.front();
    }
    return FlushHeredoc(tmpl);
  }

  // `<<-`: removes the smallest indentation of the non-blank lines from every line.
  Result<ExprPtr> FlushHeredoc(const ExprPtr& tmpl) {
    size_t min_indent = std::string::npos;
    bool line_start = true;
    const auto& parts = tmpl->children;
    for (size_t p = 0; p < parts.size(); ++p) {
      const Expr& part = *parts[p];
      if (part.kind != ExprKind::kLiteral) {
        if (line_start) {
          min_indent = 0;
        }
        line_start = false;
        continue;
      }
      const std::string& s = part.literal.AsString();
      size_t i = 0;
      while (i < s.size()) {
        if (line_start) {
          size_t n = 0;
          while (i + n < s.size() && (s[i + n] == ' ' || s[i + n] == '\t')) {
            ++n;
          }
          const bool at_end = i + n == s.size();
          const bool blank = !at_end && (s[i + n] == '\n' || s[i + n] == '\r');
          const bool next_is_interp = at_end && p + 1 < parts.size();
          if (!blank && (!at_end || next_is_interp)) {
            min_indent = std::min(min_indent, n);
          }
          i += n;
          line_start = false;
          continue;
        }
        if (s[i] == '\n') {
          line_start = true;
        }
        ++i;
      }
    }
    if (min_indent == std::string::npos || min_indent == 0) {
      return tmpl;
    }
    auto out = std::make_shared<Expr>(*tmpl);
    line_start = true;
    for (auto& part : out->children) {
      if (part->kind != ExprKind::kLiteral) {
        line_start = false;
        continue;
      }
      const std::string& s = part->literal.AsString();
      std::string stripped;
      size_t i = 0;
      while (i < s.size()) {
        if (line_start) {
          size_t n = 0;
          while (n < min_indent && i + n < s.size() && (s[i + n] == ' ' || s[i + n] == '\t')) {
            ++n;
          }
          i += n;
          line_start = false;
          continue;
        }
        stripped.push_back(s[i]);
        if (s[i] == '\n') {
          line_start = true;
        }
        ++i;
      }
      auto lit = std::make_shared<Expr>(*part);
      lit->literal = Value::String(std::move(stripped));
      part = lit;
    }
    return ExprPtr(out);
  }

  // Reads a template starting at pos_ (just after the opening quote or heredoc line).
  Result<ExprPtr> ParseTemplateAt(TemplateMode mode, size_t start, std::string_view marker) {
    DepthGuard depth(&depth_);
    BERTH_TRY(CheckDepth(start));
    auto e = Node(ExprKind::kTemplate, start, start);
    strip_next_ = false;
    TemplateEnd end = BERTH_TRY(ParseTemplateSeq(mode, marker, start, &e->children));
    if (end != TemplateEnd::kEnd) {
      return Err(start, pos_, "Unexpected template directive",
                 "An else, endif or endfor directive has no matching if or for.");
    }
    e->range = RangeOf(start, pos_);
    // A template of one plain literal (or none) is a literal string.
    if (e->children.empty() ||
        (e->children.size() == 1 && e->children[0]->kind == ExprKind::kLiteral)) {
      auto lit = Node(ExprKind::kLiteral, start, pos_);
      lit->literal = e->children.empty() ? Value::String("") : e->children[0]->literal;
      return Finish(lit);
    }
    return Finish(e);
  }

  bool AtHeredocEnd(std::string_view marker, size_t* end) const {
    size_t i = pos_;
    while (i < src_.size() && (src_[i] == ' ' || src_[i] == '\t')) {
      ++i;
    }
    if (src_.substr(i, marker.size()) != marker) {
      return false;
    }
    i += marker.size();
    if (i < src_.size() && src_[i] == '\r') {
      ++i;
    }
    if (i < src_.size() && src_[i] != '\n') {
      return false;
    }
    *end = i;
    return true;
  }

  void FlushLiteral(std::string* lit, size_t lit_start, std::vector<ExprPtr>* parts) {
    if (strip_next_) {
      size_t n = 0;
      while (n < lit->size() && IsBlank((*lit)[n])) {
        ++n;
      }
      lit->erase(0, n);
      if (!lit->empty() || n > 0) {
        strip_next_ = false;
      }
    }
    if (lit->empty()) {
      return;
    }
    auto e = Node(ExprKind::kLiteral, lit_start, pos_);
    e->literal = Value::String(std::move(*lit));
    parts->push_back(e);
    lit->clear();
  }

  static void StripTrailing(std::vector<ExprPtr>* parts) {
    if (parts->empty() || parts->back()->kind != ExprKind::kLiteral) {
      return;
    }
    std::string s = parts->back()->literal.AsString();
    while (!s.empty() && IsBlank(s.back())) {
      s.pop_back();
    }
    if (s.empty()) {
      parts->pop_back();
      return;
    }
    auto copy = std::make_shared<Expr>(*parts->back());
    copy->literal = Value::String(std::move(s));
    parts->back() = copy;
  }

  // After "${" or "%{" and an optional "~": closes the sequence with an optional "~" and "}".
  Result<> CloseSequence(size_t open) {
    Token t = Peek();
    if (t.Is("~")) {
      Next();
      strip_next_ = true;
      t = Peek();
    }
    if (!t.Is("}")) {
      return Err(t.start, t.end, "Extra characters after interpolation expression",
                 "Expected a closing brace to end the interpolation expression, but found " +
                     Describe(t) + ".");
    }
    Next();
    (void)open;
    return {};
  }

  Result<TemplateEnd> ParseTemplateSeq(TemplateMode mode, std::string_view marker, size_t start,
                                       std::vector<ExprPtr>* parts) {
    std::string lit;
    size_t lit_start = pos_;
    while (true) {
      if (mode == TemplateMode::kHeredoc && (pos_ == 0 || src_[pos_ - 1] == '\n')) {
        size_t end = 0;
        if (AtHeredocEnd(marker, &end)) {
          FlushLiteral(&lit, lit_start, parts);
          pos_ = end;
          return TemplateEnd::kEnd;
        }
      }
      if (pos_ >= src_.size()) {
        if (mode == TemplateMode::kBare) {
          FlushLiteral(&lit, lit_start, parts);
          return TemplateEnd::kEnd;
        }
        return Err(start, start + 1, "Unterminated template string",
                   mode == TemplateMode::kHeredoc ? "No closing marker was found for this heredoc."
                                                  : "No closing quote was found for this string.");
      }
      const char c = src_[pos_];
      if (mode == TemplateMode::kQuoted) {
        if (c == '"') {
          FlushLiteral(&lit, lit_start, parts);
          ++pos_;
          return TemplateEnd::kEnd;
        }
        if (c == '\n') {
          return Err(start, pos_, "Unterminated template string",
                     "No closing quote was found for this string before the end of the line.");
        }
        if (c == '\\') {
          BERTH_TRY(ParseEscape(&lit));
          continue;
        }
      }
      if ((c == '$' || c == '%') && src_.substr(pos_ + 1, 2) == std::string(1, c) + "{") {
        lit.push_back(c);
        lit.push_back('{');
        pos_ += 3;
        continue;
      }
      if ((c == '$' || c == '%') && pos_ + 1 < src_.size() && src_[pos_ + 1] == '{') {
        FlushLiteral(&lit, lit_start, parts);
        const size_t open = pos_;
        pos_ += 2;
        if (pos_ < src_.size() && src_[pos_] == '~') {
          ++pos_;
          StripTrailing(parts);
        }
        NewlineGuard nl(&ignore_newlines_, true);
        DepthGuard depth(&depth_);
        BERTH_TRY(CheckDepth(open));
        if (c == '$') {
          strip_next_ = false;
          ExprPtr e = BERTH_TRY(ParseExpr());
          BERTH_TRY(CloseSequence(open));
          if (e->kind == ExprKind::kLiteral) {
            // `${5}` or `${"x"}`: kept apart from the template's own text, which is what
            // literal parts mean (and `"${5}"` is the number, as in HCL).
            auto wrapped = Node(ExprKind::kParens, open, pos_);
            wrapped->children = {e};
            e = BERTH_TRY(Finish(wrapped));
          }
          parts->push_back(e);
        } else {
          std::optional<TemplateEnd> end = BERTH_TRY(ParseDirective(mode, marker, open, parts));
          if (end) {
            return *end;
          }
        }
        lit_start = pos_;
        continue;
      }
      lit.push_back(c);
      ++pos_;
    }
  }

  Result<> ParseEscape(std::string* lit) {
    const size_t at = pos_;
    if (pos_ + 1 >= src_.size()) {
      return Err(at, at + 1, "Invalid escape sequence", "The string ends after a backslash.");
    }
    const char e = src_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case 'n':
        lit->push_back('\n');
        return {};
      case 'r':
        lit->push_back('\r');
        return {};
      case 't':
        lit->push_back('\t');
        return {};
      case '"':
        lit->push_back('"');
        return {};
      case '\\':
        lit->push_back('\\');
        return {};
      case 'u':
      case 'U': {
        const size_t n = e == 'u' ? 4 : 8;
        if (pos_ + n > src_.size()) {
          break;
        }
        uint32_t rune = 0;
        for (size_t i = 0; i < n; ++i) {
          const char h = src_[pos_ + i];
          uint32_t d = 0;
          if (h >= '0' && h <= '9') {
            d = static_cast<uint32_t>(h - '0');
          } else if (h >= 'a' && h <= 'f') {
            d = static_cast<uint32_t>(h - 'a' + 10);
          } else if (h >= 'A' && h <= 'F') {
            d = static_cast<uint32_t>(h - 'A' + 10);
          } else {
            return Err(at, pos_ + i, "Invalid escape sequence",
                       "A \\u or \\U escape needs hexadecimal digits.");
          }
          rune = rune * 16 + d;
        }
        pos_ += n;
        gotext::AppendRune(lit, static_cast<char32_t>(rune));
        return {};
      }
      default:
        break;
    }
    return Err(at, pos_, "Invalid escape sequence",
               "The symbol " + QuoteString(std::string(1, e)) +
                   " is not a valid escape sequence selector.");
  }

  // After "%{" (and "~"): if/for open a nested sequence; else/endif/endfor end the current one.
  Result<std::optional<TemplateEnd>> ParseDirective(TemplateMode mode, std::string_view marker,
                                                    size_t open, std::vector<ExprPtr>* parts) {
    Token kw = Peek();
    if (kw.IsKeyword("else") || kw.IsKeyword("endif") || kw.IsKeyword("endfor")) {
      Next();
      BERTH_TRY(CloseSequence(open));
      if (kw.text == "else") {
        return std::optional(TemplateEnd::kElse);
      }
      return std::optional(kw.text == "endif" ? TemplateEnd::kEndIf : TemplateEnd::kEndFor);
    }
    if (kw.IsKeyword("if")) {
      Next();
      ExprPtr cond = BERTH_TRY(ParseExpr());
      BERTH_TRY(CloseSequence(open));
      auto then_t = Node(ExprKind::kTemplate, pos_, pos_);
      TemplateEnd end = BERTH_TRY(ParseNested(mode, marker, open, &then_t->children));
      ExprPtr else_expr;
      if (end == TemplateEnd::kElse) {
        auto else_t = Node(ExprKind::kTemplate, pos_, pos_);
        end = BERTH_TRY(ParseNested(mode, marker, open, &else_t->children));
        else_expr = BERTH_TRY(Finish(else_t));
      }
      if (end != TemplateEnd::kEndIf) {
        return Err(open, pos_, "Unterminated template directive",
                   "The if directive has no matching endif.");
      }
      auto e = Node(ExprKind::kTemplateIf, open, pos_);
      e->children = {cond, BERTH_TRY(Finish(then_t)), else_expr};
      parts->push_back(BERTH_TRY(Finish(e)));
      return std::optional<TemplateEnd>();
    }
    if (kw.IsKeyword("for")) {
      Next();
      auto e = Node(ExprKind::kTemplateFor, open, pos_);
      ExprPtr coll = BERTH_TRY(ParseForHeader(e.get(), "Invalid 'for' directive"));
      BERTH_TRY(CloseSequence(open));
      auto body = Node(ExprKind::kTemplate, pos_, pos_);
      TemplateEnd end = BERTH_TRY(ParseNested(mode, marker, open, &body->children));
      if (end != TemplateEnd::kEndFor) {
        return Err(open, pos_, "Unterminated template directive",
                   "The for directive has no matching endfor.");
      }
      e->children = {coll, BERTH_TRY(Finish(body))};
      e->range = RangeOf(open, pos_);
      parts->push_back(BERTH_TRY(Finish(e)));
      return std::optional<TemplateEnd>();
    }
    return Err(kw.start, kw.end, "Invalid template directive",
               "A template directive keyword (\"if\", \"for\", etc) is expected at the "
               "beginning of a %{ sequence.");
  }

  // A directive's body: template text with newlines significant again.
  Result<TemplateEnd> ParseNested(TemplateMode mode, std::string_view marker, size_t open,
                                  std::vector<ExprPtr>* parts) {
    NewlineGuard nl(&ignore_newlines_, false);
    DepthGuard depth(&depth_);
    BERTH_TRY(CheckDepth(open));
    TemplateEnd end = BERTH_TRY(ParseTemplateSeq(mode, marker, open, parts));
    if (end == TemplateEnd::kEnd) {
      // The enclosing string ended inside the directive; ParseTemplateSeq consumed its end.
      return Err(open, pos_, "Unterminated template directive",
                 "The directive has no matching end before the end of the string.");
    }
    return end;
  }

  std::string_view src_;
  std::shared_ptr<const std::string> file_;
  ParseLimits limits_;
  Pos origin_;
  std::vector<size_t> line_starts_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool strip_next_ = false;
  std::vector<bool> ignore_newlines_;
};

}  // namespace

Result<File> Parse(std::string_view source, std::string_view file_name, const ParseLimits& limits) {
  Parser parser(source, file_name, limits);
  return parser.ParseFile();
}

Result<ExprPtr> ParseExpression(std::string_view source, std::string_view file_name,
                                const ParseLimits& limits, const Pos& origin) {
  Parser parser(source, file_name, limits, origin);
  return parser.ParseWholeExpression();
}

Result<ExprPtr> ParseTemplate(std::string_view source, std::string_view file_name,
                              const ParseLimits& limits, const Pos& origin) {
  Parser parser(source, file_name, limits, origin);
  return parser.ParseBareTemplate();
}

}  // namespace berth::frontend::bake::hcl
