// The syntax tree of an HCL2 native-syntax file: a body of attributes and blocks, attributes
// holding unevaluated expressions with their source ranges. Produced by Parse (parser.h),
// consumed by the evaluator (eval.h) and by the bake layer, which walks blocks itself.
//
// Trees are immutable once parsed; expressions are shared (ExprPtr) so that a user-defined
// function or a lazily evaluated attribute can keep one alive on its own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "frontend/bake/hcl/value.h"

namespace berth::frontend::bake::hcl {

// A position in a source file: 1-based line and column (in characters), 0-based byte offset.
struct Pos {
  int line = 1;
  int column = 1;
  size_t byte = 0;
};

// A span of source text. `file` is shared by every range of a file.
struct Range {
  std::shared_ptr<const std::string> file;
  Pos start;
  Pos end;

  const std::string& filename() const;
  // "docker-bake.hcl:12:5", the prefix of every located error.
  std::string ToString() const;
};

// An InvalidArgument error "<file>:<line>:<col>: <summary>; <detail>" (HCL's diagnostic
// wording: a short summary, then a sentence of detail).
Error LocatedError(const Range& range, std::string_view summary, std::string_view detail = "");

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

enum class ExprKind {
  kLiteral,      // literal: a number, bool, null or a string without interpolation
  kTemplate,     // children: parts (literal strings, interpolated expressions, directives)
  kTemplateIf,   // children: condition, then-template, else-template (may be null)
  kTemplateFor,  // key_var (may be empty), value_var; children: collection, body-template
  kVariable,     // name: a root name (`foo`)
  kGetAttr,      // name; children: source
  kIndex,        // children: source, key
  kSplat,        // children: source, each (an expression over a kSplatItem)
  kSplatItem,    // the current element inside a splat's `each`
  kCall,         // name; children: arguments; expand_final: `f(xs...)`
  kTuple,        // children: elements
  kObject,       // children: key0, value0, key1, value1, ... (keys are expressions)
  kUnary,        // op: "-" or "!"; children: operand
  kBinary,       // op: + - * / % == != < <= > >= && ||; children: lhs, rhs
  kConditional,  // children: condition, true result, false result
  kFor,          // key_var, value_var; children: collection, key (null for tuples), value,
                 // condition (may be null); grouping: `...` after the value
  kParens,       // children: the inner expression (kept so `(a) = 1` keys evaluate `a`)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Range range;
  Value literal;                  // kLiteral
  std::string name;               // kVariable, kGetAttr, kCall
  std::string op;                 // kUnary, kBinary
  std::string key_var;            // kFor, kTemplateFor
  std::string value_var;          // kFor, kTemplateFor
  bool expand_final = false;      // kCall
  bool grouping = false;          // kFor (object form)
  bool object_for = false;        // kFor: `{for ...}` rather than `[for ...]`
  int height = 1;                 // 1 + the tallest child: the evaluator's recursion depth
  std::vector<ExprPtr> children;  // see ExprKind
};

// A reference to a root name found in an expression, for dependency analysis.
struct Reference {
  std::string name;
  Range range;
};

// The root names an expression reads (excluding names bound by `for` inside it), in order of
// appearance, with duplicates.
std::vector<Reference> CollectReferences(const Expr& expr);
// The names of the functions an expression calls, in order of appearance, with duplicates.
std::vector<Reference> CollectFunctionCalls(const Expr& expr);
// If `expr` is a bare name (`foo`, not `(foo)`), returns it; otherwise "". HCL's
// ExprAsKeyword, used for type expressions and function parameters.
std::string ExprAsKeyword(const Expr& expr);

struct Attribute {
  std::string name;
  ExprPtr expr;
  Range name_range;
  Range range;  // the whole `name = expr`
};

struct Block;

struct Body {
  std::vector<Attribute> attributes;  // in source order; names are unique within a body
  std::vector<Block> blocks;          // in source order
  Range range;

  const Attribute* FindAttribute(std::string_view name) const;
};

struct Block {
  std::string type;
  std::vector<std::string> labels;
  std::vector<Range> label_ranges;
  Range type_range;
  Range range;
  Body body;
};

struct File {
  std::string name;
  Body body;
};

}  // namespace berth::frontend::bake::hcl
