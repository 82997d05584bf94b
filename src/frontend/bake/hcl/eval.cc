#include "frontend/bake/hcl/eval.h"

#include <algorithm>
#include <cmath>

#include "base/strings.h"

namespace berth::frontend::bake::hcl {

const Value* Scope::Lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    auto it = s->variables_.find(name);
    if (it != s->variables_.end()) {
      return &it->second;
    }
  }
  return nullptr;
}

const Function* Scope::LookupFunction(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    auto it = s->functions_.find(name);
    if (it != s->functions_.end()) {
      return &it->second;
    }
  }
  return nullptr;
}

const Resolver* Scope::LookupResolver() const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    if (s->resolver_) {
      return &s->resolver_;
    }
  }
  return nullptr;
}

namespace {

// Function results nested deeper than this are refused, so that destroying or printing a value
// never recurses without bound.
constexpr int kMaxResultDepth = 512;

// The message of an error without its location prefix, for nesting in another message.
std::string Detail(const Error& e) {
  return e.message();
}

Error StepError(const Range& range, std::string_view summary, std::string_view detail) {
  return LocatedError(range, summary, detail);
}

}  // namespace

Result<Value> ApplyStep(const Value& value, const TraversalStep& step) {
  if (!step.index) {
    // `.name` (or a string key).
    if (value.is_null()) {
      return StepError(step.range, "Attempt to get attribute from null value",
                       "This value is null, so it does not have any attributes.");
    }
    if (value.is_mapping()) {
      if (const Value* v = value.Find(step.name)) {
        return *v;
      }
      if (value.kind() == ValueKind::kMap) {
        return StepError(
            step.range, "Missing map element",
            "This map does not have an element with the key " + QuoteString(step.name) + ".");
      }
      return StepError(
          step.range, "Unsupported attribute",
          "This object does not have an attribute named " + QuoteString(step.name) + ".");
    }
    if (value.is_sequence()) {
      return StepError(step.range, "Unsupported attribute",
                       "Can't access attributes on a " + value.TypeName() +
                           ". Did you mean to access an attribute for a specific element of the "
                           "list, or across all elements of the list?");
    }
    return StepError(
        step.range, "Unsupported attribute",
        "Can't access attributes on a primitive-typed value (" + value.TypeName() + ").");
  }
  const double key = *step.index;
  if (value.is_null()) {
    return StepError(step.range, "Attempt to index null value",
                     "This value is null, so it does not have any indices.");
  }
  if (value.kind() == ValueKind::kSet) {
    return StepError(step.range, "Invalid index",
                     "Elements of a set are identified only by their value and don't have any "
                     "separate index or key to select with, so it's only possible to perform "
                     "operations across all elements of the set.");
  }
  if (value.is_sequence()) {
    if (key != std::floor(key)) {
      return StepError(step.range, "Invalid index",
                       "The given key does not identify an element in this collection value: "
                       "indexing a sequence requires a whole number.");
    }
    if (key < 0) {
      return StepError(step.range, "Invalid index",
                       "The given key does not identify an element in this collection value: a "
                       "negative number is not a valid index for a sequence.");
    }
    if (key >= static_cast<double>(value.size())) {
      return StepError(step.range, "Invalid index",
                       "The given key does not identify an element in this collection value: "
                       "the collection has " +
                           std::to_string(value.size()) + " elements.");
    }
    return value.elements()[static_cast<size_t>(key)];
  }
  if (value.is_mapping()) {
    TraversalStep by_name = step;
    by_name.index.reset();
    by_name.name = FormatNumber(key);
    if (const Value* v = value.Find(by_name.name)) {
      return *v;
    }
    return StepError(step.range, "Invalid index",
                     "The given key does not identify an element in this collection value.");
  }
  return StepError(step.range, "Invalid index", "This value does not have any indices.");
}

namespace {

// Applies an index expression's key (already evaluated) to a value.
Result<Value> ApplyIndex(const Value& value, const Value& key, const Range& range) {
  TraversalStep step;
  step.range = range;
  if (key.is_null()) {
    return LocatedError(range, "Invalid index", "Can't use a null value as an indexing key.");
  }
  if (value.is_mapping()) {
    Result<std::string> name = ToString(key);
    if (!name.ok()) {
      return LocatedError(range, "Invalid index",
                          "The given key is not a valid map key: " + Detail(name.error()));
    }
    step.name = *name;
    if (const Value* v = value.Find(step.name)) {
      return *v;
    }
    return LocatedError(range, "Invalid index",
                        "The given key does not identify an element in this collection value.");
  }
  if (value.is_sequence()) {
    Result<Value> n = Convert(key, Type::Number());
    if (!n.ok()) {
      return LocatedError(range, "Invalid index",
                          "The given key is not a valid sequence index: " + Detail(n.error()));
    }
    step.index = n->AsNumber();
    return ApplyStep(value, step);
  }
  step.index = 0;
  return ApplyStep(value, step);
}

bool IsDirective(const Expr& e) {
  return e.kind == ExprKind::kTemplateIf || e.kind == ExprKind::kTemplateFor;
}

}  // namespace

Result<> Evaluator::Charge(uint64_t units) {
  work_ += units;
  if (work_ > limits_.max_work) {
    return Error::InvalidArgument("evaluation exceeded its work limit of " +
                                  std::to_string(limits_.max_work) +
                                  " steps (an expression produces too much data)");
  }
  return {};
}

Result<> Evaluator::CheckStringSize(size_t bytes) const {
  if (bytes > limits_.max_string_bytes) {
    return Error::InvalidArgument("a string of " + std::to_string(bytes) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits_.max_string_bytes));
  }
  return {};
}

Result<> Evaluator::CheckCollectionSize(size_t elements) const {
  if (elements > limits_.max_collection_size) {
    return Error::InvalidArgument("a collection of " + std::to_string(elements) +
                                  " elements exceeds the limit of " +
                                  std::to_string(limits_.max_collection_size));
  }
  return {};
}

Result<> Evaluator::EnterCall(const Range& range) {
  if (call_depth_ >= limits_.max_call_depth) {
    return LocatedError(range, "Function calls nested too deeply",
                        "User-defined functions may call each other at most " +
                            std::to_string(limits_.max_call_depth) + " levels deep.");
  }
  ++call_depth_;
  return {};
}

Result<Value> Evaluator::Evaluate(const Expr& expr, const Scope& scope) {
  return Eval(expr, scope);
}

Result<Value> Evaluator::EvaluateAs(const Expr& expr, const Scope& scope, const Type& type) {
  Value v = BERTH_TRY(Eval(expr, scope));
  Result<Value> converted = Convert(v, type);
  if (!converted.ok()) {
    return LocatedError(expr.range, "Unsuitable value type",
                        "Unsuitable value: " + Detail(converted.error()));
  }
  return converted;
}

Result<Type> Evaluator::EvaluateType(const Expr& expr) {
  auto invalid = [&](std::string_view detail) {
    return LocatedError(expr.range, "Invalid type specification", detail);
  };
  if (expr.kind == ExprKind::kVariable) {
    if (expr.name == "string") {
      return Type::String();
    }
    if (expr.name == "number") {
      return Type::Number();
    }
    if (expr.name == "bool") {
      return Type::Bool();
    }
    if (expr.name == "any") {
      return Type::Any();
    }
    if (expr.name == "list" || expr.name == "set" || expr.name == "map") {
      return invalid("The " + expr.name +
                     " type constructor requires one argument specifying "
                     "the element type.");
    }
    return invalid("The keyword " + QuoteString(expr.name) + " is not a valid type specification.");
  }
  if (expr.kind != ExprKind::kCall) {
    return invalid(
        "A type specification is either a primitive type keyword (bool, number, "
        "string) or a complex type constructor call, like list(string).");
  }
  if (expr.children.size() != 1 || expr.expand_final) {
    return invalid("The " + expr.name + " type constructor requires exactly one argument.");
  }
  const Expr& arg = *expr.children[0];
  if (expr.name == "list" || expr.name == "set" || expr.name == "map") {
    Type element = BERTH_TRY(EvaluateType(arg));
    if (expr.name == "list") {
      return Type::List(element);
    }
    return expr.name == "set" ? Type::Set(element) : Type::Map(element);
  }
  if (expr.name == "tuple") {
    if (arg.kind != ExprKind::kTuple) {
      return invalid("The tuple type constructor requires a list of element types.");
    }
    std::vector<Type> elements;
    for (const ExprPtr& e : arg.children) {
      elements.push_back(BERTH_TRY(EvaluateType(*e)));
    }
    return Type::Tuple(std::move(elements));
  }
  if (expr.name == "object") {
    if (arg.kind != ExprKind::kObject) {
      return invalid("The object type constructor requires an object of attribute types.");
    }
    std::map<std::string, Type> attributes;
    std::vector<std::string> optional;
    for (size_t i = 0; i + 1 < arg.children.size(); i += 2) {
      const Expr& key = *arg.children[i];
      if (key.kind != ExprKind::kLiteral || !key.literal.is_string()) {
        return LocatedError(key.range, "Invalid type specification",
                            "Object constructor map keys must be attribute names.");
      }
      const std::string& name = key.literal.AsString();
      const Expr* type_expr = arg.children[i + 1].get();
      if (type_expr->kind == ExprKind::kCall && type_expr->name == "optional") {
        if (type_expr->children.empty() || type_expr->children.size() > 2) {
          return LocatedError(type_expr->range, "Invalid type specification",
                              "The optional modifier requires the attribute type.");
        }
        optional.push_back(name);
        type_expr = type_expr->children[0].get();
      }
      attributes.emplace(name, BERTH_TRY(EvaluateType(*type_expr)));
    }
    return Type::Object(std::move(attributes), std::move(optional));
  }
  return invalid("Keyword " + QuoteString(expr.name) + " is not a valid type constructor.");
}

Result<Value> Evaluator::Eval(const Expr& expr, const Scope& scope) {
  Result<Value> v = EvalNode(expr, scope);
  if (v.ok() && v->weight() > limits_.max_value_weight) {
    return LocatedError(expr.range, "Value too large",
                        "The value of this expression is larger than the limit of " +
                            std::to_string(limits_.max_value_weight) + " units.");
  }
  return v;
}

Result<Value> Evaluator::EvalNode(const Expr& expr, const Scope& scope) {
  {
    Result<> charged = Charge(1);
    if (!charged.ok()) {
      return LocatedError(expr.range, "Evaluation too expensive", Detail(charged.error()));
    }
  }
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kTemplate:
      return EvalTemplate(expr, scope, /*unwrap=*/true);
    case ExprKind::kTemplateIf:
    case ExprKind::kTemplateFor: {
      std::string out;
      BERTH_TRY(AppendTemplate(expr, scope, &out));
      return Value::String(std::move(out));
    }
    case ExprKind::kVariable:
    case ExprKind::kGetAttr:
    case ExprKind::kIndex:
      return EvalTraversal(expr, scope);
    case ExprKind::kSplat:
      return EvalSplat(expr, scope);
    case ExprKind::kSplatItem:
      if (splat_items_.empty()) {
        return LocatedError(expr.range, "Invalid splat", "No splat is being evaluated.");
      }
      return splat_items_.back();
    case ExprKind::kCall:
      return EvalCall(expr, scope);
    case ExprKind::kTuple: {
      Value::Elements out;
      out.reserve(expr.children.size());
      for (const ExprPtr& e : expr.children) {
        out.push_back(BERTH_TRY(Eval(*e, scope)));
      }
      return Value::Tuple(std::move(out));
    }
    case ExprKind::kObject:
      return EvalObject(expr, scope);
    case ExprKind::kUnary: {
      Value v = BERTH_TRY(Eval(*expr.children[0], scope));
      if (expr.op == "!") {
        Result<Value> b = Convert(v, Type::Bool());
        if (!b.ok() || b->is_null()) {
          return LocatedError(expr.range, "Invalid operand",
                              "Unsuitable value for unary operand: bool required.");
        }
        return Value::Bool(!b->AsBool());
      }
      Result<Value> n = Convert(v, Type::Number());
      if (!n.ok() || n->is_null()) {
        return LocatedError(expr.range, "Invalid operand",
                            "Unsuitable value for unary operand: number required.");
      }
      return Value::Number(-n->AsNumber());
    }
    case ExprKind::kBinary:
      return EvalBinary(expr, scope);
    case ExprKind::kConditional: {
      Value cond = BERTH_TRY(Eval(*expr.children[0], scope));
      Result<Value> b = Convert(cond, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return LocatedError(expr.children[0]->range, "Incorrect condition type",
                            cond.is_null() ? "The condition value is null. Conditions must "
                                             "either be true or false."
                                           : "The condition expression must be of type bool.");
      }
      return Eval(*expr.children[b->AsBool() ? 1 : 2], scope);
    }
    case ExprKind::kFor:
      return EvalFor(expr, scope);
    case ExprKind::kParens:
      return Eval(*expr.children[0], scope);
  }
  return LocatedError(expr.range, "Invalid expression", "Unknown expression kind.");
}

Result<Value> Evaluator::EvalTraversal(const Expr& expr, const Scope& scope) {
  // Flatten `root.a[b].c` into the root and its steps (outermost last).
  std::vector<const Expr*> ops;
  const Expr* root = &expr;
  while (root->kind == ExprKind::kGetAttr || root->kind == ExprKind::kIndex) {
    ops.push_back(root);
    root = root->children[0].get();
  }
  std::reverse(ops.begin(), ops.end());

  Value current;
  size_t next = 0;
  if (root->kind == ExprKind::kVariable) {
    if (const Value* v = scope.Lookup(root->name)) {
      current = *v;
    } else {
      const Resolver* resolver = scope.LookupResolver();
      std::optional<Resolution> resolved;
      if (resolver != nullptr) {
        std::vector<TraversalStep> steps;
        for (const Expr* op : ops) {
          TraversalStep step;
          step.range = op->range;
          if (op->kind == ExprKind::kGetAttr) {
            step.name = op->name;
          } else {
            const Expr& key = *op->children[1];
            if (key.kind != ExprKind::kLiteral) {
              break;
            }
            if (key.literal.is_number()) {
              step.index = key.literal.AsNumber();
            } else if (key.literal.is_string()) {
              step.name = key.literal.AsString();
            } else {
              break;
            }
          }
          steps.push_back(std::move(step));
        }
        resolved = BERTH_TRY((*resolver)(*this, root->name, steps, root->range));
      }
      if (!resolved) {
        return LocatedError(root->range, "Unknown variable",
                            "There is no variable named " + QuoteString(root->name) + ".");
      }
      current = std::move(resolved->value);
      next = std::min(resolved->consumed, ops.size());
    }
  } else {
    current = BERTH_TRY(Eval(*root, scope));
  }
  for (; next < ops.size(); ++next) {
    const Expr* op = ops[next];
    if (op->kind == ExprKind::kGetAttr) {
      TraversalStep step;
      step.name = op->name;
      step.range = op->range;
      current = BERTH_TRY(ApplyStep(current, step));
    } else {
      Value key = BERTH_TRY(Eval(*op->children[1], scope));
      current = BERTH_TRY(ApplyIndex(current, key, op->range));
    }
  }
  return current;
}

Result<Value> Evaluator::EvalTemplate(const Expr& expr, const Scope& scope, bool unwrap) {
  if (unwrap && expr.children.size() == 1 && expr.children[0]->kind != ExprKind::kLiteral &&
      !IsDirective(*expr.children[0])) {
    return Eval(*expr.children[0], scope);
  }
  std::string out;
  BERTH_TRY(AppendTemplate(expr, scope, &out));
  return Value::String(std::move(out));
}

Result<> Evaluator::AppendTemplate(const Expr& expr, const Scope& scope, std::string* out) {
  auto check = [&](const Range& range) -> Result<> {
    Result<> size = CheckStringSize(out->size());
    if (!size.ok()) {
      return LocatedError(range, "Template result too long", Detail(size.error()));
    }
    Result<> charged = Charge(1 + out->size() / 4096);
    if (!charged.ok()) {
      return LocatedError(range, "Evaluation too expensive", Detail(charged.error()));
    }
    return {};
  };
  switch (expr.kind) {
    case ExprKind::kTemplate:
      for (const ExprPtr& part : expr.children) {
        if (part->kind == ExprKind::kLiteral && part->literal.is_string()) {
          *out += part->literal.AsString();
        } else if (IsDirective(*part)) {
          BERTH_TRY(AppendTemplate(*part, scope, out));
        } else {
          Value v = BERTH_TRY(Eval(*part, scope));
          if (v.is_null()) {
            return LocatedError(part->range, "Invalid template interpolation value",
                                "The expression result is null. Cannot include a null value in "
                                "a string template.");
          }
          Result<std::string> s = ToString(v);
          if (!s.ok()) {
            return LocatedError(
                part->range, "Invalid template interpolation value",
                "Cannot include the given value in a string template: " + Detail(s.error()) + ".");
          }
          *out += *s;
        }
        BERTH_TRY(check(part->range));
      }
      return {};
    case ExprKind::kTemplateIf: {
      Value cond = BERTH_TRY(Eval(*expr.children[0], scope));
      Result<Value> b = Convert(cond, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return LocatedError(expr.children[0]->range, "Invalid template if condition",
                            "The condition must be of type bool.");
      }
      const ExprPtr& branch = expr.children[b->AsBool() ? 1 : 2];
      if (branch) {
        BERTH_TRY(AppendTemplate(*branch, scope, out));
      }
      return {};
    }
    case ExprKind::kTemplateFor: {
      Value coll = BERTH_TRY(Eval(*expr.children[0], scope));
      if (coll.is_null()) {
        return LocatedError(expr.children[0]->range, "Invalid template for directive",
                            "Cannot iterate over a null value.");
      }
      auto body = [&](Value key, const Value& value) -> Result<> {
        Scope inner(&scope);
        if (!expr.key_var.empty()) {
          inner.Set(expr.key_var, std::move(key));
        }
        inner.Set(expr.value_var, value);
        BERTH_TRY(AppendTemplate(*expr.children[1], inner, out));
        return check(expr.range);
      };
      if (coll.is_sequence()) {
        size_t i = 0;
        for (const Value& v : coll.elements()) {
          BERTH_TRY(
              body(coll.kind() == ValueKind::kSet ? v : Value::Number(static_cast<double>(i)), v));
          ++i;
        }
      } else if (coll.is_mapping()) {
        for (const auto& [k, v] : coll.attributes()) {
          BERTH_TRY(body(Value::String(k), v));
        }
      } else {
        return LocatedError(expr.children[0]->range, "Invalid template for directive",
                            "A " + coll.TypeName() + " value cannot be iterated over.");
      }
      return {};
    }
    default: {
      Value v = BERTH_TRY(Eval(expr, scope));
      Result<std::string> s = ToString(v);
      if (!s.ok()) {
        return LocatedError(expr.range, "Invalid template interpolation value", Detail(s.error()));
      }
      *out += *s;
      return check(expr.range);
    }
  }
}

Result<Value> Evaluator::EvalObject(const Expr& expr, const Scope& scope) {
  Value::Attributes out;
  for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
    const Expr& key_expr = *expr.children[i];
    Value key = BERTH_TRY(Eval(key_expr, scope));
    if (key.is_null()) {
      return LocatedError(key_expr.range, "Null value as key", "Can't use a null value as a key.");
    }
    Result<std::string> name = ToString(key);
    if (!name.ok()) {
      return LocatedError(key_expr.range, "Incorrect key type",
                          "Can't use this value as a key: " + Detail(name.error()) + ".");
    }
    out.insert_or_assign(*name, BERTH_TRY(Eval(*expr.children[i + 1], scope)));
  }
  return Value::Object(std::move(out));
}

Result<Value> Evaluator::EvalBinary(const Expr& expr, const Scope& scope) {
  const std::string& op = expr.op;
  const Expr& lhs_expr = *expr.children[0];
  const Expr& rhs_expr = *expr.children[1];
  if (op == "&&" || op == "||") {
    auto as_bool = [&](const Expr& e, const char* side) -> Result<bool> {
      Value v = BERTH_TRY(Eval(e, scope));
      Result<Value> b = Convert(v, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return LocatedError(
            e.range, "Invalid operand",
            std::string("Unsuitable value for ") + side + " operand: bool required.");
      }
      return b->AsBool();
    };
    const bool lhs = BERTH_TRY(as_bool(lhs_expr, "left"));
    if (op == "&&" && !lhs) {
      return Value::Bool(false);
    }
    if (op == "||" && lhs) {
      return Value::Bool(true);
    }
    return Value::Bool(BERTH_TRY(as_bool(rhs_expr, "right")));
  }
  Value lhs = BERTH_TRY(Eval(lhs_expr, scope));
  Value rhs = BERTH_TRY(Eval(rhs_expr, scope));
  if (op == "==") {
    return Value::Bool(lhs == rhs);
  }
  if (op == "!=") {
    return Value::Bool(!(lhs == rhs));
  }
  auto as_number = [&](const Value& v, const Expr& e, const char* side) -> Result<double> {
    Result<Value> n = Convert(v, Type::Number());
    if (!n.ok() || n->is_null()) {
      return LocatedError(e.range, "Invalid operand",
                          std::string("Unsuitable value for ") + side + " operand: " +
                              (n.ok() ? "number required" : Detail(n.error())) + ".");
    }
    return n->AsNumber();
  };
  const double a = BERTH_TRY(as_number(lhs, lhs_expr, "left"));
  const double b = BERTH_TRY(as_number(rhs, rhs_expr, "right"));
  if (op == "<") {
    return Value::Bool(a < b);
  }
  if (op == "<=") {
    return Value::Bool(a <= b);
  }
  if (op == ">") {
    return Value::Bool(a > b);
  }
  if (op == ">=") {
    return Value::Bool(a >= b);
  }
  double r = 0;
  if (op == "+") {
    r = a + b;
  } else if (op == "-") {
    r = a - b;
  } else if (op == "*") {
    r = a * b;
  } else if (op == "/" || op == "%") {
    if (b == 0) {
      return LocatedError(expr.range, "Operation failed",
                          "Error during operation: can't divide by zero.");
    }
    r = op == "/" ? a / b : std::fmod(a, b);
  } else {
    return LocatedError(expr.range, "Invalid operator", QuoteString(op));
  }
  if (!std::isfinite(r)) {
    return LocatedError(expr.range, "Operation failed",
                        "Error during operation: the result is not a finite number.");
  }
  return Value::Number(r);
}

Result<Value> Evaluator::EvalFor(const Expr& expr, const Scope& scope) {
  const Expr& coll_expr = *expr.children[0];
  const ExprPtr& key_expr = expr.children[1];
  const Expr& value_expr = *expr.children[2];
  const ExprPtr& cond_expr = expr.children[3];
  Value coll = BERTH_TRY(Eval(coll_expr, scope));
  if (coll.is_null()) {
    return LocatedError(coll_expr.range, "Iteration over null value",
                        "A null value cannot be used as the collection in a 'for' expression.");
  }
  if (!coll.is_sequence() && !coll.is_mapping()) {
    return LocatedError(coll_expr.range, "Iteration over non-iterable value",
                        "A value of type " + coll.TypeName() +
                            " cannot be used as the collection in a 'for' expression.");
  }
  Value::Elements tuple_out;
  Value::Attributes object_out;
  std::map<std::string, Value::Elements> groups;
  auto iterate = [&](Value key, const Value& value) -> Result<> {
    Result<> charged = Charge(1);
    if (!charged.ok()) {
      return LocatedError(expr.range, "Evaluation too expensive", Detail(charged.error()));
    }
    Scope inner(&scope);
    if (!expr.key_var.empty()) {
      inner.Set(expr.key_var, std::move(key));
    }
    inner.Set(expr.value_var, value);
    if (cond_expr) {
      Value c = BERTH_TRY(Eval(*cond_expr, inner));
      Result<Value> b = Convert(c, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return LocatedError(cond_expr->range, "Invalid 'for' condition",
                            "The 'if' clause value is invalid: bool required.");
      }
      if (!b->AsBool()) {
        return {};
      }
    }
    if (!expr.object_for) {
      tuple_out.push_back(BERTH_TRY(Eval(value_expr, inner)));
      Result<> size = CheckCollectionSize(tuple_out.size());
      if (!size.ok()) {
        return LocatedError(expr.range, "Result too large", Detail(size.error()));
      }
      return {};
    }
    Value k = BERTH_TRY(Eval(*key_expr, inner));
    if (k.is_null()) {
      return LocatedError(key_expr->range, "Invalid object key",
                          "Key expression in 'for' expression must not produce a null value.");
    }
    Result<std::string> name = ToString(k);
    if (!name.ok()) {
      return LocatedError(
          key_expr->range, "Invalid object key",
          "The key expression produced an invalid result: " + Detail(name.error()) + ".");
    }
    Value v = BERTH_TRY(Eval(value_expr, inner));
    if (expr.grouping) {
      groups[*name].push_back(std::move(v));
    } else {
      if (object_out.contains(*name)) {
        return LocatedError(key_expr->range, "Duplicate object key",
                            "Two different items produced the key " + QuoteString(*name) +
                                " in this 'for' expression. If duplicates are expected, use the "
                                "ellipsis (...) after the value expression to enable grouping by "
                                "key.");
      }
      object_out.emplace(*name, std::move(v));
    }
    Result<> size = CheckCollectionSize(object_out.size() + groups.size());
    if (!size.ok()) {
      return LocatedError(expr.range, "Result too large", Detail(size.error()));
    }
    return {};
  };
  if (coll.is_sequence()) {
    size_t i = 0;
    for (const Value& v : coll.elements()) {
      BERTH_TRY(
          iterate(coll.kind() == ValueKind::kSet ? v : Value::Number(static_cast<double>(i)), v));
      ++i;
    }
  } else {
    for (const auto& [k, v] : coll.attributes()) {
      BERTH_TRY(iterate(Value::String(k), v));
    }
  }
  if (!expr.object_for) {
    return Value::Tuple(std::move(tuple_out));
  }
  if (expr.grouping) {
    for (auto& [k, vs] : groups) {
      object_out.emplace(k, Value::Tuple(std::move(vs)));
    }
  }
  return Value::Object(std::move(object_out));
}

Result<Value> Evaluator::EvalSplat(const Expr& expr, const Scope& scope) {
  Value source = BERTH_TRY(Eval(*expr.children[0], scope));
  if (source.is_null()) {
    return Value::EmptyTuple();
  }
  Value::Elements items;
  if (source.is_sequence()) {
    items = source.elements();
  } else {
    items.push_back(source);
  }
  Value::Elements out;
  out.reserve(items.size());
  for (Value& item : items) {
    splat_items_.push_back(std::move(item));
    Result<Value> v = Eval(*expr.children[1], scope);
    splat_items_.pop_back();
    if (!v.ok()) {
      return std::move(v).error();
    }
    out.push_back(std::move(v).value());
  }
  if (!source.is_sequence()) {
    return Value::Tuple(std::move(out));
  }
  return source.kind() == ValueKind::kList ? Value::List(std::move(out))
                                           : Value::Tuple(std::move(out));
}

Result<Value> Evaluator::EvalCall(const Expr& expr, const Scope& scope) {
  const std::string& name = expr.name;
  // Special forms that see their arguments unevaluated.
  if (name == "try" && !expr.expand_final) {
    if (expr.children.empty()) {
      return LocatedError(expr.range, "Not enough function arguments",
                          "Function \"try\" expects at least one argument.");
    }
    std::string last;
    for (const ExprPtr& arg : expr.children) {
      Result<Value> v = Eval(*arg, scope);
      if (v.ok()) {
        return v;
      }
      last = Detail(v.error());
    }
    return LocatedError(expr.range, "Error in function call",
                        "Call to function \"try\" failed: no expression succeeded: " + last);
  }
  if (name == "can" && !expr.expand_final) {
    if (expr.children.size() != 1) {
      return LocatedError(expr.range, "Invalid function call",
                          "Function \"can\" expects exactly one argument.");
    }
    Result<Value> v = Eval(*expr.children[0], scope);
    return Value::Bool(v.ok());
  }
  if (name == "convert" && !expr.expand_final) {
    if (expr.children.size() != 2) {
      return LocatedError(expr.range, "Invalid function call",
                          "Function \"convert\" expects a value and a type.");
    }
    Value v = BERTH_TRY(Eval(*expr.children[0], scope));
    Type t = BERTH_TRY(EvaluateType(*expr.children[1]));
    Result<Value> out = Convert(v, t);
    if (!out.ok()) {
      return LocatedError(expr.range, "Error in function call",
                          "Call to function \"convert\" failed: " + Detail(out.error()) + ".");
    }
    return out;
  }
  const Function* fn = scope.LookupFunction(name);
  if (fn == nullptr) {
    return LocatedError(expr.range, "Call to unknown function",
                        "There is no function named " + QuoteString(name) + ".");
  }
  std::vector<Value> args;
  args.reserve(expr.children.size());
  for (size_t i = 0; i < expr.children.size(); ++i) {
    Value v = BERTH_TRY(Eval(*expr.children[i], scope));
    if (expr.expand_final && i + 1 == expr.children.size()) {
      if (v.is_null()) {
        return LocatedError(expr.children[i]->range, "Invalid expanding argument value",
                            "The expanding argument (indicated by ...) must not be null.");
      }
      if (!v.is_sequence()) {
        return LocatedError(expr.children[i]->range, "Invalid expanding argument value",
                            "The expanding argument (indicated by ...) must be of a tuple, list, "
                            "or set type.");
      }
      for (const Value& e : v.elements()) {
        args.push_back(e);
      }
    } else {
      args.push_back(std::move(v));
    }
  }
  const int n = static_cast<int>(args.size());
  if (n < fn->min_args) {
    return LocatedError(expr.range, "Not enough function arguments",
                        "Function " + QuoteString(name) + " expects " +
                            (fn->max_args == fn->min_args ? "" : "at least ") +
                            std::to_string(fn->min_args) +
                            " argument(s). Missing value for "
                            "argument " +
                            std::to_string(n + 1) + ".");
  }
  if (fn->max_args >= 0 && n > fn->max_args) {
    return LocatedError(expr.range, "Too many function arguments",
                        "Function " + QuoteString(name) + " expects only " +
                            std::to_string(fn->max_args) + " argument(s).");
  }
  CallContext ctx{*this, scope, expr.range};
  Result<Value> out = fn->impl(ctx, args);
  if (!out.ok()) {
    return LocatedError(
        expr.range, "Error in function call",
        "Call to function " + QuoteString(name) + " failed: " + Detail(out.error()) + ".");
  }
  Value& v = *out;
  Result<> sized =
      v.is_string() ? CheckStringSize(v.AsString().size()) : CheckCollectionSize(v.size());
  if (sized.ok()) {
    sized = Charge(1 + v.size() + (v.is_string() ? v.AsString().size() / 4096 : 0));
  }
  if (!sized.ok()) {
    return LocatedError(
        expr.range, "Error in function call",
        "Call to function " + QuoteString(name) + " failed: " + Detail(sized.error()) + ".");
  }
  if (v.depth() > kMaxResultDepth) {
    return LocatedError(
        expr.range, "Error in function call",
        "Call to function " + QuoteString(name) + " failed: the result is nested too deeply.");
  }
  return out;
}

}  // namespace berth::frontend::bake::hcl
