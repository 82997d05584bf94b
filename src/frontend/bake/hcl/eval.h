// The HCL expression evaluator: scopes of variables and functions, a hook for names resolved on
// demand (bake's `target.x.attr`, variables whose defaults are evaluated lazily), and limits
// that keep hostile input from exhausting the stack, memory or time.
//
// Semantics follow hashicorp/hcl's hclsyntax with go-cty values: templates with a single
// interpolation yield the raw value ("${list}" is the list), arithmetic converts strings that
// spell numbers, `&&`/`||` short-circuit, splats over null give an empty tuple and over a
// non-collection a one-element tuple, `for` binds index/key and value. Errors are
// InvalidArgument "<file>:<line>:<col>: <summary>; <detail>" with HCL's wording.
//
// Thread-safety: a Scope may be read from several threads once built; an Evaluator is used by
// one thread at a time (it counts work and call depth).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "frontend/bake/hcl/ast.h"
#include "frontend/bake/hcl/value.h"

namespace berth::frontend::bake::hcl {

class Evaluator;
class Scope;

// One static step after a root name: `.name`, `["key"]` or `[0]`.
struct TraversalStep {
  std::string name;  // attribute name or string key
  std::optional<double> index;
  Range range;
};

// What a Resolver returns: the value of the root with the first `consumed` steps applied; the
// evaluator applies the rest.
struct Resolution {
  Value value;
  size_t consumed = 0;
};

// Called for a root name no scope defines, with the static steps that follow it (attribute names
// and literal keys, up to the first computed key or splat). Returns nullopt when the name is
// unknown (the evaluator then reports "Unknown variable"), an error to abort (e.g. a cycle), or
// the resolution. The resolver may call back into the evaluator; detecting cycles is its job.
using Resolver = std::function<Result<std::optional<Resolution>>(
    Evaluator& evaluator, const std::string& root, const std::vector<TraversalStep>& steps,
    const Range& range)>;

// What a function implementation gets besides its arguments.
struct CallContext {
  Evaluator& evaluator;
  const Scope& scope;  // the caller's scope
  const Range& range;  // the call expression
};

// A function. Arguments arrive evaluated (a final `xs...` already expanded) and counted:
// min_args <= args.size() <= max_args (max_args < 0: variadic). An error's message becomes the
// detail of "Call to function "name" failed: ...".
struct Function {
  std::function<Result<Value>(CallContext& ctx, std::vector<Value>& args)> impl;
  int min_args = 0;
  int max_args = 0;
};

class Scope {
 public:
  Scope() = default;
  // `parent` must outlive this scope.
  explicit Scope(const Scope* parent) : parent_(parent) {}

  void Set(std::string name, Value value) {
    variables_.insert_or_assign(std::move(name), std::move(value));
  }
  void SetFunction(std::string name, Function fn) {
    functions_.insert_or_assign(std::move(name), std::move(fn));
  }
  void SetResolver(Resolver resolver) { resolver_ = std::move(resolver); }

  // The nearest definition, walking up the parents; nullptr when none.
  const Value* Lookup(std::string_view name) const;
  const Function* LookupFunction(std::string_view name) const;
  const Resolver* LookupResolver() const;

  const std::map<std::string, Value, std::less<>>& variables() const { return variables_; }
  const std::map<std::string, Function, std::less<>>& functions() const { return functions_; }
  const Scope* parent() const { return parent_; }

 private:
  const Scope* parent_ = nullptr;
  std::map<std::string, Value, std::less<>> variables_;
  std::map<std::string, Function, std::less<>> functions_;
  Resolver resolver_;
};

// A scope holding the bake standard library (stdlib.cc), built once; use it as the root parent.
const Scope& StdlibScope();
// The names of the standard library functions, sorted (including the special forms `try`,
// `can` and `convert`, which the evaluator implements itself).
std::vector<std::string> StdlibFunctionNames();

struct EvalLimits {
  int max_call_depth = 32;               // nested user-function calls
  size_t max_string_bytes = 4 << 20;     // any string value
  size_t max_collection_size = 1 << 20;  // elements of any list, tuple, map or object
  uint64_t max_work = 50'000'000;        // evaluation steps + produced elements per Evaluator
  uint64_t max_value_weight = 1 << 22;   // Value::weight() of any value
};

class Evaluator {
 public:
  explicit Evaluator(EvalLimits limits = {}) : limits_(limits) {}
  ~Evaluator() = default;
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;
  Evaluator(Evaluator&&) = delete;
  Evaluator& operator=(Evaluator&&) = delete;

  Result<Value> Evaluate(const Expr& expr, const Scope& scope);
  // Evaluates and converts to `type`; a conversion failure reads like gohcl's:
  // "<pos>: Unsuitable value type; Unsuitable value: string required".
  Result<Value> EvaluateAs(const Expr& expr, const Scope& scope, const Type& type);
  // Evaluates a type expression (`string`, `list(number)`, `object({a = string})`, `any`).
  static Result<Type> EvaluateType(const Expr& expr);

  // Accounting for function implementations: each returns an error once a limit is exceeded.
  Result<> Charge(uint64_t units);
  Result<> CheckStringSize(size_t bytes) const;
  Result<> CheckCollectionSize(size_t elements) const;

  // User-defined functions bracket their body with these (max_call_depth).
  Result<> EnterCall(const Range& range);
  void LeaveCall() { --call_depth_; }

  const EvalLimits& limits() const { return limits_; }

 private:
  Result<Value> Eval(const Expr& expr, const Scope& scope);
  Result<Value> EvalNode(const Expr& expr, const Scope& scope);
  Result<Value> EvalTraversal(const Expr& expr, const Scope& scope);
  Result<Value> EvalTemplate(const Expr& expr, const Scope& scope, bool unwrap);
  Result<> AppendTemplate(const Expr& expr, const Scope& scope, std::string* out);
  Result<Value> EvalCall(const Expr& expr, const Scope& scope);
  Result<Value> EvalBinary(const Expr& expr, const Scope& scope);
  Result<Value> EvalFor(const Expr& expr, const Scope& scope);
  Result<Value> EvalSplat(const Expr& expr, const Scope& scope);
  Result<Value> EvalObject(const Expr& expr, const Scope& scope);

  EvalLimits limits_;
  uint64_t work_ = 0;
  int call_depth_ = 0;
  std::vector<Value> splat_items_;
};

// Applies one traversal step to a value (what `.name` and `[key]` do), for resolvers that
// return a partially traversed value and for callers walking values.
Result<Value> ApplyStep(const Value& value, const TraversalStep& step);

}  // namespace berth::frontend::bake::hcl
