// The global definitions of a set of bake files: `variable` blocks, `function` blocks and
// top-level attributes, resolved the way buildx's bake/hclparser does, into a Scope that target
// and group attributes are then evaluated in.
//
// - A top-level attribute `FOO = "x"` (e.g. in an override file) sets FOO, taking the place of
//   a variable block's default (the environment still overrides a declared variable, never a
//   bare attribute); the last file to define a name wins.
// - Variables may use each other and user functions in their defaults, in any order; a cycle is
//   an error at the reference ("variable cycle not allowed for X").
// - Environment overrides (and the caller's --var map, which wins over the environment) apply to
//   names declared by a `variable` block. A typed variable parses the value by its type:
//   numbers and bools, CSV for lists, sets, tuples and maps of primitives, `<NAME>_JSON` (JSON,
//   taking precedence) for any type. An untyped variable with a bool or number default parses
//   the value as that; otherwise it is a string. Untyped without default and unset: "".
//   Typed without default and unset: null.
// - `validation { condition, error_message }` blocks are checked once every variable is known.
// - `function "f" { params = [a, b]  variadic_params = rest  result = ... }` defines f;
//   functions may not call each other in a cycle ("function cycle not allowed for f").
//
// Errors carry "<file>:<line>:<col>:". Load is not thread-safe; the resulting scope may be read
// concurrently but evaluated by one Evaluator at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "frontend/bake/hcl/ast.h"
#include "frontend/bake/hcl/eval.h"

namespace berth::frontend::bake::hcl {

struct GlobalsOptions {
  // Reads an environment variable; nullopt when unset. Unset: no environment.
  std::function<std::optional<std::string>(const std::string& name)> lookup_env;
  // NAME -> value overrides from the command line; parsed like environment values, and win
  // over them. A `NAME_JSON` key gives a JSON value for a typed variable.
  std::map<std::string, std::string> overrides;
  // Built-in string variables (BAKE_CMD_CONTEXT, BAKE_LOCAL_PLATFORM): reserved names that
  // `variable` blocks cannot redefine.
  std::map<std::string, std::string> builtins;
  // Block types that belong to the caller (target, group, ...): their names are reserved, and
  // they are skipped here.
  std::set<std::string> reserved_blocks = {"target", "group"};
  EvalLimits limits;
};

// What `--list variables` shows about one variable.
struct VariableInfo {
  std::string name;
  std::string type;  // the declared type's friendly name; "" when untyped
  std::string description;
  Value value;
  Range range;
};

class Globals {
 public:
  // Resolves every global of `files` (in order; later files override earlier ones):
  // Prepare, then ResolveAll.
  // REQUIRES: the files outlive the Globals (user functions keep their expressions).
  static Result<std::unique_ptr<Globals>> Load(const std::vector<const File*>& files,
                                               GlobalsOptions options);

  // Collects the definitions and defines the user functions without evaluating anything;
  // scope() then resolves globals on demand. Lets a caller install a fallback resolver that
  // refers to scope() (bake's `target.x.attr`, which globals may use: `x = target.a.tags`)
  // before ResolveAll.
  static Result<std::unique_ptr<Globals>> Prepare(const std::vector<const File*>& files,
                                                  GlobalsOptions options);
  // Consulted for names that are not globals (while resolving and afterwards, through
  // scope()); without one such names are unknown variables.
  void SetFallbackResolver(Resolver resolver) { fallback_ = std::move(resolver); }
  // Evaluates every global, checks --var names and the validation blocks.
  Result<> ResolveAll();

  // Variables and user functions, with the standard library as parent.
  const Scope& scope() const { return scope_; }
  // An evaluator with the configured limits, for evaluating in scope().
  Evaluator& evaluator() { return evaluator_; }
  // Declared variables (not top-level attributes or built-ins), sorted by name.
  std::vector<VariableInfo> Variables() const;

 private:
  struct VariableDef {
    std::string name;
    const Block* block = nullptr;
    const Attribute* default_attr = nullptr;
    const Attribute* type_attr = nullptr;
  };
  struct FunctionDef {
    std::string name;
    const Block* block = nullptr;
  };

  explicit Globals(GlobalsOptions options)
      : options_(std::move(options)), scope_(&StdlibScope()), evaluator_(options_.limits) {}

  Result<> Collect(const std::vector<const File*>& files);
  Result<> DefineFunctions();
  Result<> Resolve(const std::string& name, const Range& from);
  Result<Value> ResolveVariable(const VariableDef& def);
  Result<> Validate();
  std::optional<std::string> Lookup(const std::string& name) const;

  GlobalsOptions options_;
  Scope scope_;
  Evaluator evaluator_;
  std::map<std::string, VariableDef> variables_;
  std::map<std::string, const Attribute*> attributes_;
  std::map<std::string, FunctionDef> functions_;
  std::map<std::string, std::optional<Type>> types_;
  std::set<std::string> in_progress_;
  Resolver fallback_;
};

}  // namespace berth::frontend::bake::hcl
