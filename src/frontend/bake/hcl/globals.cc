#include "frontend/bake/hcl/globals.h"

#include "base/strings.h"
#include "frontend/bake/hcl/csv.h"

namespace berth::frontend::bake::hcl {

namespace {

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

// buildx's convertPrimitive: an override value as a primitive of type `type`.
Result<Value> ParsePrimitive(const std::string& name, const std::string& raw, const Type& type) {
  switch (type.kind()) {
    case Type::Kind::kString:
      return Value::String(raw);
    case Type::Kind::kBool: {
      std::optional<bool> b = ParseGoBool(raw);
      if (!b) {
        return Error::InvalidArgument("failed to parse " + name +
                                      " as bool: strconv.ParseBool: "
                                      "parsing " +
                                      QuoteString(raw) + ": invalid syntax");
      }
      return Value::Bool(*b);
    }
    case Type::Kind::kNumber: {
      std::optional<double> n = ParseNumber(raw);
      if (!n) {
        return Error::InvalidArgument("failed to parse " + name +
                                      " as number: strconv.ParseFloat: parsing " +
                                      QuoteString(raw) + ": invalid syntax");
      }
      return Value::Number(*n);
    }
    default:
      return Error::InvalidArgument("unsupported type " + type.FriendlyName() + " for variable " +
                                    name);
  }
}

bool SupportedCsvType(const Type& t) {
  switch (t.kind()) {
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kMap:
      return t.element().is_primitive();
    case Type::Kind::kTuple:
      for (const Type& e : t.tuple_elements()) {
        if (!e.is_primitive()) {
          return false;
        }
      }
      return true;
    default:
      return false;
  }
}

// buildx's valueFromCSV: one CSV record holding the elements (for maps, key:value pairs).
Result<Value> ValueFromCsv(const std::string& name, const std::string& raw, const Type& type) {
  std::vector<std::string> fields;
  if (!raw.empty()) {
    Result<std::vector<std::vector<std::string>>> records = internal::ReadCsv(raw, false);
    if (!records.ok()) {
      return Error::InvalidArgument("failed to parse " + QuoteString(raw) +
                                    " as CSV: " + records.error().message());
    }
    if (records->size() > 1) {
      return Error::InvalidArgument("failed to parse " + QuoteString(raw) +
                                    " as CSV: expected a single line");
    }
    if (!records->empty()) {
      fields = std::move(records->front());
    }
  }
  auto element = [&](size_t i, const std::string& field, const Type& t) -> Result<Value> {
    Result<Value> v = ParsePrimitive(name, field, t);
    if (!v.ok()) {
      return Error::InvalidArgument("failed to parse element " + std::to_string(i) + " (" +
                                    QuoteString(field) + "): " + v.error().message());
    }
    return v;
  };
  Value::Elements elements;
  switch (type.kind()) {
    case Type::Kind::kList:
    case Type::Kind::kSet:
      for (size_t i = 0; i < fields.size(); ++i) {
        elements.push_back(BERTH_TRY(element(i, fields[i], type.element())));
      }
      return type.kind() == Type::Kind::kList ? Value::List(std::move(elements))
                                              : Value::Set(std::move(elements));
    case Type::Kind::kTuple: {
      const auto& types = type.tuple_elements();
      if (fields.size() != types.size()) {
        return Error::InvalidArgument("expected " + std::to_string(types.size()) +
                                      " elements for the tuple but found " +
                                      std::to_string(fields.size()));
      }
      for (size_t i = 0; i < fields.size(); ++i) {
        elements.push_back(BERTH_TRY(element(i, fields[i], types[i])));
      }
      return Value::Tuple(std::move(elements));
    }
    case Type::Kind::kMap: {
      Value::Attributes attributes;
      for (size_t i = 0; i < fields.size(); ++i) {
        std::vector<std::string> pair = StrSplit(fields[i], ':');
        if (pair.size() != 2) {
          return Error::InvalidArgument("expected one k/v pair but got " +
                                        std::to_string(pair.size()) + " pieces from " +
                                        QuoteString(fields[i]));
        }
        attributes.insert_or_assign(pair[0], BERTH_TRY(element(i, pair[1], type.element())));
      }
      return Value::Map(std::move(attributes));
    }
    default:
      return Error::InvalidArgument("unsupported type " + type.FriendlyName() +
                                    " for CSV specification");
  }
}

Error BlockError(const Range& range, std::string_view summary, std::string_view detail) {
  return LocatedError(range, summary, detail);
}

}  // namespace

Result<std::unique_ptr<Globals>> Globals::Load(const std::vector<const File*>& files,
                                               GlobalsOptions options) {
  std::unique_ptr<Globals> g = BERTH_TRY(Prepare(files, std::move(options)));
  BERTH_TRY(g->ResolveAll());
  return g;
}

Result<std::unique_ptr<Globals>> Globals::Prepare(const std::vector<const File*>& files,
                                                  GlobalsOptions options) {
  std::unique_ptr<Globals> g(new Globals(std::move(options)));
  BERTH_TRY(g->Collect(files));
  BERTH_TRY(g->DefineFunctions());
  Globals* self = g.get();
  g->scope_.SetResolver([self](Evaluator& ev, const std::string& root,
                               const std::vector<TraversalStep>& steps,
                               const Range& range) -> Result<std::optional<Resolution>> {
    if (!self->variables_.contains(root) && !self->attributes_.contains(root) &&
        !self->options_.builtins.contains(root)) {
      if (self->fallback_) {
        return self->fallback_(ev, root, steps, range);
      }
      return std::optional<Resolution>();
    }
    BERTH_TRY(self->Resolve(root, range));
    const Value* v =
        self->scope_.variables().contains(root) ? &self->scope_.variables().at(root) : nullptr;
    if (v == nullptr) {
      return std::optional<Resolution>();
    }
    return std::optional<Resolution>(Resolution{*v, 0});
  });
  return g;
}

Result<> Globals::ResolveAll() {
  Range none;
  for (const auto& [name, value] : options_.builtins) {
    BERTH_TRY(Resolve(name, none));
  }
  for (const auto& [name, attr] : attributes_) {
    BERTH_TRY(Resolve(name, attr->name_range));
  }
  for (const auto& [name, def] : variables_) {
    BERTH_TRY(Resolve(name, def.block->type_range));
  }
  for (const auto& [name, raw] : options_.overrides) {
    const std::string base = name.ends_with("_JSON") && !variables_.contains(name)
                                 ? name.substr(0, name.size() - 5)
                                 : name;
    if (!variables_.contains(base)) {
      return Error::InvalidArgument("cannot override " + QuoteString(name) +
                                    ": no variable of that name is defined");
    }
  }
  return Validate();
}

Result<> Globals::Collect(const std::vector<const File*>& files) {
  for (const File* file : files) {
    for (const Attribute& attr : file->body.attributes) {
      if (options_.reserved_blocks.contains(attr.name) || attr.name == "variable" ||
          attr.name == "function") {
        continue;
      }
      if (options_.builtins.contains(attr.name)) {
        continue;
      }
      attributes_[attr.name] = &attr;
    }
    for (const Block& block : file->body.blocks) {
      if (block.type != "variable" && block.type != "function") {
        continue;
      }
      if (block.labels.size() != 1) {
        return BlockError(block.type_range, "Invalid block",
                          "A " + block.type + " block needs exactly one label, its name.");
      }
      const std::string& name = block.labels[0];
      if (name.empty()) {
        // Nothing could refer to it, nor set it from the environment.
        return BlockError(block.type_range, "Invalid block",
                          "A " + block.type + " block needs a name that is not empty.");
      }
      if (options_.reserved_blocks.contains(name) || options_.builtins.contains(name)) {
        continue;
      }
      if (block.type == "variable") {
        VariableDef def;
        def.name = name;
        def.block = &block;
        for (const Attribute& attr : block.body.attributes) {
          if (attr.name == "default") {
            def.default_attr = &attr;
          } else if (attr.name == "type") {
            def.type_attr = &attr;
          } else if (attr.name != "description") {
            return BlockError(
                attr.name_range, "Unsupported argument",
                "An argument named " + QuoteString(attr.name) + " is not expected here.");
          }
        }
        for (const Block& nested : block.body.blocks) {
          if (nested.type != "validation") {
            return BlockError(
                nested.type_range, "Unsupported block type",
                "Blocks of type " + QuoteString(nested.type) + " are not expected here.");
          }
          if (nested.body.FindAttribute("condition") == nullptr) {
            return BlockError(
                nested.type_range, "Missing required argument",
                R"(The argument "condition" is required, but no definition was found.)");
          }
        }
        variables_[name] = def;
      } else {
        if (block.body.FindAttribute("params") == nullptr ||
            block.body.FindAttribute("result") == nullptr) {
          return BlockError(block.type_range, "Missing required argument",
                            R"(A function block needs the arguments "params" and "result".)");
        }
        for (const Attribute& attr : block.body.attributes) {
          if (attr.name != "params" && attr.name != "variadic_params" && attr.name != "result") {
            return BlockError(
                attr.name_range, "Unsupported argument",
                "An argument named " + QuoteString(attr.name) + " is not expected here.");
          }
        }
        functions_[name] = FunctionDef{name, &block};
      }
    }
  }
  // A variable's type is needed before its value (and by Variables()).
  for (auto& [name, def] : variables_) {
    if (def.type_attr != nullptr) {
      types_[name] = BERTH_TRY(Evaluator::EvaluateType(*def.type_attr->expr));
    } else {
      types_[name] = std::nullopt;
    }
  }
  return {};
}

Result<> Globals::DefineFunctions() {
  // Static cycle check over the call graph of user functions.
  std::map<std::string, int> state;  // 1 = visiting, 2 = done
  std::function<Result<>(const std::string&, const Range&)> visit =
      [&](const std::string& name, const Range& from) -> Result<> {
    if (state[name] == 2) {
      return {};
    }
    if (state[name] == 1) {
      return LocatedError(from, "Invalid function", "function cycle not allowed for " + name);
    }
    state[name] = 1;
    const Attribute* result = functions_.at(name).block->body.FindAttribute("result");
    for (const Reference& call : CollectFunctionCalls(*result->expr)) {
      if (functions_.contains(call.name)) {
        BERTH_TRY(visit(call.name, call.range));
      }
    }
    state[name] = 2;
    return {};
  };
  for (const auto& [name, def] : functions_) {
    BERTH_TRY(visit(name, def.block->type_range));
  }

  for (const auto& [name, def] : functions_) {
    const Body& body = def.block->body;
    const Attribute* params_attr = body.FindAttribute("params");
    const Attribute* variadic_attr = body.FindAttribute("variadic_params");
    ExprPtr result = body.FindAttribute("result")->expr;
    std::vector<std::string> params;
    if (params_attr->expr->kind != ExprKind::kTuple) {
      return LocatedError(params_attr->expr->range, "Invalid params",
                          "The params argument must be a list of parameter names.");
    }
    for (const ExprPtr& p : params_attr->expr->children) {
      std::string param = ExprAsKeyword(*p);
      if (param.empty()) {
        return LocatedError(p->range, "Invalid param element",
                            "Each parameter name must be an identifier.");
      }
      params.push_back(std::move(param));
    }
    std::string variadic;
    if (variadic_attr != nullptr) {
      variadic = ExprAsKeyword(*variadic_attr->expr);
      if (variadic.empty()) {
        return LocatedError(variadic_attr->expr->range, "Invalid param element",
                            "Each parameter name must be an identifier.");
      }
    }
    const Scope* globals = &scope_;
    Function fn;
    fn.min_args = static_cast<int>(params.size());
    fn.max_args = variadic.empty() ? static_cast<int>(params.size()) : -1;
    fn.impl = [globals, params, variadic, result](CallContext& ctx,
                                                  std::vector<Value>& args) -> Result<Value> {
      BERTH_TRY(ctx.evaluator.EnterCall(ctx.range));
      Scope local(globals);
      for (size_t i = 0; i < params.size(); ++i) {
        local.Set(params[i], args[i]);
      }
      if (!variadic.empty()) {
        Value::Elements rest(args.begin() + static_cast<ptrdiff_t>(params.size()), args.end());
        local.Set(variadic, Value::Tuple(std::move(rest)));
      }
      Result<Value> out = ctx.evaluator.Evaluate(*result, local);
      ctx.evaluator.LeaveCall();
      return out;
    };
    scope_.SetFunction(name, std::move(fn));
  }
  return {};
}

std::optional<std::string> Globals::Lookup(const std::string& name) const {
  auto it = options_.overrides.find(name);
  if (it != options_.overrides.end()) {
    return it->second;
  }
  if (options_.lookup_env) {
    return options_.lookup_env(name);
  }
  return std::nullopt;
}

Result<> Globals::Resolve(const std::string& name, const Range& from) {
  if (scope_.variables().contains(name)) {
    return {};
  }
  if (in_progress_.contains(name)) {
    return LocatedError(from, "Invalid expression", "variable cycle not allowed for " + name);
  }
  in_progress_.insert(name);
  Value value;
  auto attr = attributes_.find(name);
  auto var = variables_.find(name);
  if (attr != attributes_.end() && var != variables_.end()) {
    // A top-level attribute for a declared variable replaces its default; the environment
    // still overrides it.
    VariableDef def = var->second;
    def.default_attr = attr->second;
    Result<Value> v = ResolveVariable(def);
    if (!v.ok()) {
      in_progress_.erase(name);
      return std::move(v).error();
    }
    value = std::move(v).value();
  } else if (attr != attributes_.end()) {
    // A plain top-level attribute: its expression, no environment override.
    Result<Value> v = evaluator_.Evaluate(*attr->second->expr, scope_);
    if (!v.ok()) {
      in_progress_.erase(name);
      return std::move(v).error();
    }
    value = std::move(v).value();
  } else if (options_.builtins.contains(name)) {
    value = Value::String(options_.builtins.at(name));
  } else {
    Result<Value> v = ResolveVariable(variables_.at(name));
    if (!v.ok()) {
      in_progress_.erase(name);
      return std::move(v).error();
    }
    value = std::move(v).value();
  }
  in_progress_.erase(name);
  scope_.Set(name, std::move(value));
  return {};
}

Result<Value> Globals::ResolveVariable(const VariableDef& def) {
  const std::string& name = def.name;
  const std::optional<Type>& type = types_[name];
  const bool typed = type.has_value();
  const Range& where = def.block->type_range;
  auto fail = [&](const std::string& detail) {
    return LocatedError(where, "Invalid value", detail);
  };

  Value value;
  if (def.default_attr != nullptr) {
    value = BERTH_TRY(evaluator_.Evaluate(*def.default_attr->expr, scope_));
    if (typed) {
      Result<Value> converted = Convert(value, *type);
      if (!converted.ok()) {
        return LocatedError(def.default_attr->expr->range, "Invalid value",
                            "invalid type " + type->FriendlyName() + " for variable " + name +
                                " default value: " + converted.error().message());
      }
      value = std::move(converted).value();
    }
  } else if (!typed) {
    value = Value::String("");
  }

  // The override: NAME_JSON (typed variables only, unless NAME_JSON is itself a variable), then
  // NAME.
  std::optional<std::string> raw;
  bool json = false;
  if (typed && !variables_.contains(name + "_JSON")) {
    raw = Lookup(name + "_JSON");
    json = raw.has_value();
  }
  if (!raw) {
    raw = Lookup(name);
  }
  if (!raw) {
    return value;
  }
  if (typed && json) {
    Result<Value> v = JsonDecodeAs(*raw, *type);
    if (!v.ok()) {
      return fail("failed to convert variable " + name + " from JSON: " + v.error().message());
    }
    return v;
  }
  if (typed && type->kind() == Type::Kind::kAny) {
    return Value::String(*raw);
  }
  if (typed && SupportedCsvType(*type)) {
    Result<Value> v = ValueFromCsv(name, *raw, *type);
    if (!v.ok()) {
      return fail("failed to convert variable " + name + " from CSV: " + v.error().message());
    }
    return v;
  }
  if (typed && type->is_primitive()) {
    Result<Value> v = ParsePrimitive(name, *raw, *type);
    if (!v.ok()) {
      return fail(v.error().message());
    }
    return v;
  }
  if (typed) {
    return fail("unsupported type " + type->FriendlyName() + " for variable " + name);
  }
  // Untyped: infer from the default.
  if (def.default_attr == nullptr || value.is_null() || value.is_string()) {
    return Value::String(*raw);
  }
  if (value.is_bool()) {
    Result<Value> v = ParsePrimitive(name, *raw, Type::Bool());
    if (!v.ok()) {
      return fail(v.error().message());
    }
    return v;
  }
  if (value.is_number()) {
    Result<Value> v = ParsePrimitive(name, *raw, Type::Number());
    if (!v.ok()) {
      return fail(v.error().message());
    }
    return v;
  }
  return fail("unsupported type " + value.TypeName() + " for variable " + name);
}

Result<> Globals::Validate() {
  for (const auto& [name, def] : variables_) {
    for (const Block& validation : def.block->body.blocks) {
      const Attribute* cond = validation.body.FindAttribute("condition");
      Value ok = BERTH_TRY(evaluator_.Evaluate(*cond->expr, scope_));
      Result<Value> b = Convert(ok, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return LocatedError(cond->expr->range, "Invalid variable validation result",
                            "The validation condition must be a bool.");
      }
      if (b->AsBool()) {
        continue;
      }
      std::string message = "validation failed for variable " + name;
      if (const Attribute* msg = validation.body.FindAttribute("error_message")) {
        Value m = BERTH_TRY(evaluator_.Evaluate(*msg->expr, scope_));
        Result<std::string> s = ToString(m);
        if (s.ok()) {
          message = *s;
        }
      }
      return LocatedError(cond->expr->range, "Validation failed", message);
    }
  }
  return {};
}

std::vector<VariableInfo> Globals::Variables() const {
  std::vector<VariableInfo> out;
  for (const auto& [name, def] : variables_) {
    VariableInfo info;
    info.name = name;
    auto t = types_.find(name);
    if (t != types_.end() && t->second) {
      info.type = t->second->FriendlyName();
    }
    if (const Attribute* d = def.block->body.FindAttribute("description")) {
      if (d->expr->kind == ExprKind::kLiteral && d->expr->literal.is_string()) {
        info.description = d->expr->literal.AsString();
      }
    }
    if (const Value* v = scope_.Lookup(name)) {
      info.value = *v;
    }
    info.range = def.block->range;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace berth::frontend::bake::hcl
