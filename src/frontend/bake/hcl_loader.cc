// HCL and JSON bake files -> Config, as buildx's hclparser does: globals first (variables,
// functions, top-level attributes; frontend/bake/hcl), then every `target` block expanded by its
// `matrix` and evaluated attribute by attribute, lazily, so that `target.other.tags` can be read
// from any expression (cycles are errors), then `group` blocks.
#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include "base/strings.h"
#include "frontend/bake/hcl/hcl.h"
#include "frontend/bake/loader.h"

namespace berth::frontend::bake::internal {

namespace {

namespace hcl = berth::frontend::bake::hcl;

enum class Kind {
  kString,     // context, dockerfile, ...
  kList,       // tags, platforms, ...
  kEntryList,  // cache-from, output, ...: strings, or objects written back as CSV
  kMap,        // args, labels, extra-hosts: values may be null
  kContexts,   // contexts: string values
  kBool,       // pull, no-cache
  kDescription,
  kInherits,
};

struct Field {
  std::string_view name;
  Kind kind;
  std::optional<std::string> Target::*str = nullptr;
  StringList Target::*list = nullptr;
  NullableMap Target::*map = nullptr;
  std::optional<bool> Target::*boolean = nullptr;
};

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      {"description", Kind::kDescription},
      {"inherits", Kind::kInherits},
      {"annotations", Kind::kList, nullptr, &Target::annotations},
      {"attest", Kind::kEntryList, nullptr, &Target::attest},
      {"context", Kind::kString, &Target::context},
      {"contexts", Kind::kContexts},
      {"dockerfile", Kind::kString, &Target::dockerfile},
      {"dockerfile-inline", Kind::kString, &Target::dockerfile_inline},
      {"args", Kind::kMap, nullptr, nullptr, &Target::args},
      {"labels", Kind::kMap, nullptr, nullptr, &Target::labels},
      {"tags", Kind::kList, nullptr, &Target::tags},
      {"cache-from", Kind::kEntryList, nullptr, &Target::cache_from},
      {"cache-to", Kind::kEntryList, nullptr, &Target::cache_to},
      {"target", Kind::kString, &Target::target},
      {"secret", Kind::kEntryList, nullptr, &Target::secret},
      {"ssh", Kind::kEntryList, nullptr, &Target::ssh},
      {"platforms", Kind::kList, nullptr, &Target::platforms},
      {"output", Kind::kEntryList, nullptr, &Target::output},
      {"pull", Kind::kBool, nullptr, nullptr, nullptr, &Target::pull},
      {"no-cache", Kind::kBool, nullptr, nullptr, nullptr, &Target::no_cache},
      {"network", Kind::kString, &Target::network},
      {"no-cache-filter", Kind::kList, nullptr, &Target::no_cache_filter},
      {"shm-size", Kind::kString, &Target::shm_size},
      {"ulimits", Kind::kList, nullptr, &Target::ulimits},
      {"call", Kind::kString, &Target::call},
      {"entitlements", Kind::kList, nullptr, &Target::entitlements},
      {"extra-hosts", Kind::kMap, nullptr, nullptr, &Target::extra_hosts},
      {"project_id", Kind::kString, &Target::project_id},
  };
  return kFields;
}

const Field* FindField(std::string_view name) {
  for (const Field& f : Fields()) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

Error TypeError(const hcl::Attribute& attr, const std::string& detail) {
  return hcl::LocatedError(
      attr.expr->range, "Incorrect attribute value type",
      "Inappropriate value for attribute " + QuoteString(attr.name) + ": " + detail + ".");
}

// A primitive as a string (numbers formatted as cty does, bools "true"/"false").
Result<std::string> Primitive(const hcl::Value& v) {
  Result<hcl::Value> s = hcl::Convert(v, hcl::Type::String());
  if (!s.ok() || s->is_null()) {
    return Error::InvalidArgument("string required");
  }
  return s->AsString();
}

// An object entry of cache-from/cache-to/output/secret/ssh/attest as buildx's CSV form:
// `type` first, then the other keys sorted.
Result<std::string> EntryFromObject(const hcl::Value& v) {
  std::vector<std::string> parts;
  if (const hcl::Value* type = v.Find("type"); type != nullptr && !type->is_null()) {
    parts.push_back("type=" + BERTH_TRY(Primitive(*type)));
  }
  for (const auto& [k, e] : v.attributes()) {
    if (k == "type" || e.is_null()) {
      continue;
    }
    std::string value;
    if (e.is_sequence()) {
      std::vector<std::string> items;
      for (const hcl::Value& item : e.elements()) {
        items.push_back(BERTH_TRY(Primitive(item)));
      }
      value = StrJoin(items, ",");
      if (items.size() > 1) {
        value = "\"" + value + "\"";
      }
    } else {
      value = BERTH_TRY(Primitive(e));
    }
    parts.push_back(k + "=" + value);
  }
  return StrJoin(parts, ",");
}

// Sets `field` of `t` from an evaluated attribute value (null leaves it unset).
Result<> SetField(Target* t, const Field& field, const hcl::Attribute& attr, const hcl::Value& v) {
  if (v.is_null()) {
    return {};
  }
  switch (field.kind) {
    case Kind::kString:
    case Kind::kDescription: {
      Result<std::string> s = Primitive(v);
      if (!s.ok()) {
        return TypeError(attr, "string required");
      }
      if (field.kind == Kind::kDescription) {
        t->description = *s;
      } else {
        t->*field.str = *s;
      }
      return {};
    }
    case Kind::kBool: {
      Result<hcl::Value> b = hcl::Convert(v, hcl::Type::Bool());
      if (!b.ok()) {
        return TypeError(attr, "bool required");
      }
      t->*field.boolean = b->AsBool();
      return {};
    }
    case Kind::kList:
    case Kind::kInherits:
    case Kind::kEntryList: {
      if (!v.is_sequence()) {
        return TypeError(attr, "list of string required");
      }
      std::vector<std::string> items;
      for (const hcl::Value& e : v.elements()) {
        if (e.is_null()) {
          continue;
        }
        if (field.kind == Kind::kEntryList && e.is_mapping()) {
          Result<std::string> s = EntryFromObject(e);
          if (!s.ok()) {
            return TypeError(attr, s.error().message());
          }
          items.push_back(*s);
          continue;
        }
        Result<std::string> s = Primitive(e);
        if (!s.ok()) {
          return TypeError(attr, "list of string required");
        }
        items.push_back(*s);
      }
      if (field.kind == Kind::kInherits) {
        t->inherits = std::move(items);
        t->inherits_location = attr.expr->range.ToString();
      } else {
        t->*field.list = std::move(items);
      }
      return {};
    }
    case Kind::kMap:
    case Kind::kContexts: {
      if (!v.is_mapping()) {
        return TypeError(attr, "map of string required");
      }
      for (const auto& [k, e] : v.attributes()) {
        if (e.is_null()) {
          if (field.kind == Kind::kMap) {
            (t->*field.map)[k] = std::nullopt;
          }
          continue;
        }
        Result<std::string> s = Primitive(e);
        if (!s.ok()) {
          return TypeError(attr, "map of string required");
        }
        if (field.kind == Kind::kMap) {
          (t->*field.map)[k] = *s;
        } else {
          t->contexts[k] = *s;
        }
      }
      return {};
    }
  }
  return {};
}

hcl::Value StringsValue(const std::vector<std::string>& items) {
  hcl::Value::Elements e;
  for (const std::string& s : items) {
    e.push_back(hcl::Value::String(s));
  }
  return hcl::Value::List(std::move(e));
}

// A field of a (partial) target as the value `target.x.<field>` reads.
hcl::Value FieldValue(const Target& t, const Field& field) {
  switch (field.kind) {
    case Kind::kString:
      return t.*field.str ? hcl::Value::String(*(t.*field.str)) : hcl::Value::Null();
    case Kind::kDescription:
      return t.description.empty() ? hcl::Value::Null() : hcl::Value::String(t.description);
    case Kind::kBool:
      return t.*field.boolean ? hcl::Value::Bool(*(t.*field.boolean)) : hcl::Value::Null();
    case Kind::kInherits:
      return t.inherits.empty() ? hcl::Value::Null() : StringsValue(t.inherits);
    case Kind::kList:
    case Kind::kEntryList:
      return t.*field.list ? StringsValue(*(t.*field.list)) : hcl::Value::Null();
    case Kind::kMap: {
      if ((t.*field.map).empty()) {
        return hcl::Value::Null();
      }
      hcl::Value::Attributes a;
      for (const auto& [k, v] : t.*field.map) {
        a[k] = v ? hcl::Value::String(*v) : hcl::Value::Null();
      }
      return hcl::Value::Map(std::move(a));
    }
    case Kind::kContexts: {
      if (t.contexts.empty()) {
        return hcl::Value::Null();
      }
      hcl::Value::Attributes a;
      for (const auto& [k, v] : t.contexts) {
        a[k] = hcl::Value::String(v);
      }
      return hcl::Value::Map(std::move(a));
    }
  }
  return hcl::Value::Null();
}

hcl::Value TargetValue(const Target& t) {
  hcl::Value::Attributes a;
  a["name"] = hcl::Value::String(t.name);
  for (const Field& f : Fields()) {
    a[std::string(f.name)] = FieldValue(t, f);
  }
  return hcl::Value::Object(std::move(a));
}

// One target block under one combination of its matrix.
struct Instance {
  std::string name;
  const hcl::Block* block = nullptr;
  std::unique_ptr<hcl::Scope> scope;
  std::map<std::string, hcl::Value> cache;
  size_t order = 0;
};

class HclLoader {
 public:
  explicit HclLoader(const LoadOptions& options) : options_(options) {}

  Result<Config> Run(const std::vector<const BakeFile*>& files,
                     std::vector<VariableInfo>* variables) {
    for (const BakeFile* f : files) {
      files_.push_back(BERTH_TRY(ParseFile(*f)));
    }
    std::vector<const hcl::File*> pointers;
    for (const hcl::File& f : files_) {
      pointers.push_back(&f);
    }
    hcl::GlobalsOptions g;
    const std::map<std::string, std::string>* env = &options_.env;
    g.lookup_env = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env->find(name);
      if (it == env->end()) {
        return std::nullopt;
      }
      return it->second;
    };
    g.overrides = options_.vars;
    if (options_.max_eval_work != 0) {
      g.limits.max_work = options_.max_eval_work;
    }
    if (options_.max_string_bytes != 0) {
      g.limits.max_string_bytes = options_.max_string_bytes;
    }
    g.builtins = {{"BAKE_CMD_CONTEXT", options_.cmd_context},
                  {"BAKE_LOCAL_PLATFORM", options_.local_platform}};
    globals_ = BERTH_TRY(hcl::Globals::Load(pointers, std::move(g)));
    for (const hcl::VariableInfo& v : globals_->Variables()) {
      VariableInfo info;
      info.name = v.name;
      info.type = v.type;
      info.description = v.description;
      if (v.value.is_string()) {
        info.value = v.value.AsString();
      } else if (!v.value.is_null()) {
        info.value = hcl::JsonEncode(v.value);
      }
      variables->push_back(std::move(info));
    }

    root_ = std::make_unique<hcl::Scope>(&globals_->scope());
    root_->SetResolver(
        [this](hcl::Evaluator& ev, const std::string& root,
               const std::vector<hcl::TraversalStep>& steps,
               const hcl::Range& range) { return ResolveReference(root, steps, range); });

    BERTH_TRY(CheckBlocks());
    BERTH_TRY(ExpandTargets());
    Config config;
    // Targets in order of first definition, same names merged.
    for (const std::unique_ptr<Instance>& inst : instances_) {
      Target t = BERTH_TRY(Decode(*inst));
      Target* existing = nullptr;
      for (Target& c : config.targets) {
        if (c.name == t.name) {
          existing = &c;
        }
      }
      if (existing != nullptr) {
        existing->Merge(t);
      } else {
        config.targets.push_back(std::move(t));
      }
    }
    BERTH_TRY(DecodeGroups(&config));
    return config;
  }

 private:
  static Result<hcl::File> ParseFile(const BakeFile& f) {
    const std::string lower = ToLower(f.name);
    if (lower.ends_with(".json")) {
      return hcl::ParseJson(f.data, f.name);
    }
    if (lower.ends_with(".hcl")) {
      return hcl::Parse(f.data, f.name);
    }
    Result<hcl::File> native = hcl::Parse(f.data, f.name);
    if (native.ok()) {
      return native;
    }
    Result<hcl::File> json = hcl::ParseJson(f.data, f.name);
    if (json.ok()) {
      return json;
    }
    return native;
  }

  Result<> CheckBlocks() {
    for (const hcl::File& f : files_) {
      for (const hcl::Block& b : f.body.blocks) {
        if (b.type == "variable" || b.type == "function") {
          continue;
        }
        if (b.type != "target" && b.type != "group") {
          return hcl::LocatedError(
              b.type_range, "Unsupported block type",
              "Blocks of type " + QuoteString(b.type) + " are not expected here.");
        }
        if (b.labels.size() != 1) {
          return hcl::LocatedError(b.type_range, "Invalid block",
                                   "A " + b.type + " block needs exactly one label, its name.");
        }
        if (!IsValidTargetName(b.labels[0])) {
          return hcl::LocatedError(b.label_ranges.empty() ? b.type_range : b.label_ranges[0],
                                   "Invalid name",
                                   "only \"[a-zA-Z0-9_-]+\" are allowed in " + b.type +
                                       " names, not " + QuoteString(b.labels[0]));
        }
        for (const hcl::Block& nested : b.body.blocks) {
          return hcl::LocatedError(
              nested.type_range, "Unsupported block type",
              "Blocks of type " + QuoteString(nested.type) + " are not expected here.");
        }
        for (const hcl::Attribute& a : b.body.attributes) {
          bool known = b.type == "target"
                           ? FindField(a.name) != nullptr || a.name == "matrix" || a.name == "name"
                           : a.name == "targets" || a.name == "description";
          if (b.type == "group" && (a.name == "matrix" || a.name == "name")) {
            return hcl::LocatedError(a.name_range, "Unsupported argument",
                                     a.name + " is not supported for groups");
          }
          if (!known) {
            return hcl::LocatedError(
                a.name_range, "Unsupported argument",
                "An argument named " + QuoteString(a.name) + " is not expected here.");
          }
        }
        if (b.type == "target" && b.body.FindAttribute("name") != nullptr &&
            b.body.FindAttribute("matrix") == nullptr) {
          return hcl::LocatedError(b.body.FindAttribute("name")->name_range, "Invalid name",
                                   "name requires matrix");
        }
      }
    }
    return {};
  }

  // Targets without a matrix first (a matrix or name may read them), then the matrix ones.
  Result<> ExpandTargets() {
    size_t order = 0;
    std::vector<std::pair<const hcl::Block*, size_t>> matrix_blocks;
    for (const hcl::File& f : files_) {
      for (const hcl::Block& b : f.body.blocks) {
        if (b.type != "target") {
          continue;
        }
        order += 1 << 20;
        if (b.body.FindAttribute("matrix") != nullptr) {
          matrix_blocks.emplace_back(&b, order);
          continue;
        }
        auto inst = std::make_unique<Instance>();
        inst->name = b.labels[0];
        inst->block = &b;
        inst->scope = std::make_unique<hcl::Scope>(root_.get());
        inst->order = order;
        by_name_[inst->name].push_back(inst.get());
        instances_.push_back(std::move(inst));
      }
    }
    for (const auto& [block, base] : matrix_blocks) {
      BERTH_TRY(ExpandMatrix(*block, base));
    }
    std::stable_sort(instances_.begin(), instances_.end(),
                     [](const auto& a, const auto& b) { return a->order < b->order; });
    for (auto& [name, list] : by_name_) {
      std::stable_sort(list.begin(), list.end(),
                       [](const Instance* a, const Instance* b) { return a->order < b->order; });
    }
    return {};
  }

  Result<> ExpandMatrix(const hcl::Block& b, size_t base) {
    const hcl::Attribute* attr = b.body.FindAttribute("matrix");
    hcl::Value m = BERTH_TRY(globals_->evaluator().Evaluate(*attr->expr, *root_));
    if (!m.is_mapping()) {
      return hcl::LocatedError(attr->expr->range, "Invalid matrix", "matrix must be a map");
    }
    // The cartesian product, as buildx builds it: keys in order, the last varying slowest.
    std::vector<std::map<std::string, hcl::Value>> combos = {{}};
    for (const auto& [key, values] : m.attributes()) {
      if (!values.is_sequence()) {
        return hcl::LocatedError(
            attr->expr->range, "Invalid matrix",
            "matrix values must be a list (" + QuoteString(key) + " is " + values.TypeName() + ")");
      }
      std::vector<std::map<std::string, hcl::Value>> next;
      for (const hcl::Value& v : values.elements()) {
        for (const auto& combo : combos) {
          auto c = combo;
          c[key] = v;
          next.push_back(std::move(c));
          if (next.size() > 4096) {
            return hcl::LocatedError(attr->expr->range, "Invalid matrix",
                                     "matrix expands to more than 4096 targets");
          }
        }
      }
      combos = std::move(next);
    }
    const hcl::Attribute* name_attr = b.body.FindAttribute("name");
    std::vector<std::string> names;
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto& combo : combos) {
      auto inst = std::make_unique<Instance>();
      inst->block = &b;
      inst->scope = std::make_unique<hcl::Scope>(root_.get());
      for (const auto& [k, v] : combo) {
        inst->scope->Set(k, v);
      }
      inst->order = base + i++;
      inst->name = b.labels[0];
      if (name_attr != nullptr) {
        hcl::Value n = BERTH_TRY(globals_->evaluator().Evaluate(*name_attr->expr, *inst->scope));
        Result<std::string> s = Primitive(n);
        if (!s.ok()) {
          return TypeError(*name_attr, "string required");
        }
        if (!IsValidTargetName(*s)) {
          return hcl::LocatedError(
              name_attr->expr->range, "Invalid name",
              "only \"[a-zA-Z0-9_-]+\" are allowed in target names, not " + QuoteString(*s));
        }
        inst->name = *s;
      }
      if (!seen.insert(inst->name).second) {
        return hcl::LocatedError(
            name_attr != nullptr ? name_attr->expr->range : b.type_range, "Duplicate target name",
            "the matrix of target " + QuoteString(b.labels[0]) + " gives the name " +
                QuoteString(inst->name) + " more than once; make `name` unique per combination");
      }
      names.push_back(inst->name);
      by_name_[inst->name].push_back(inst.get());
      instances_.push_back(std::move(inst));
    }
    if (!(names.size() == 1 && names[0] == b.labels[0])) {
      Group g;
      g.name = b.labels[0];
      g.targets = names;
      g.location = b.type_range.ToString();
      renamed_.push_back(std::move(g));
    }
    return {};
  }

  // The value of attribute `name` of one instance (nullopt when the block lacks it).
  Result<std::optional<hcl::Value>> Evaluate(Instance& inst, const std::string& name) {
    const hcl::Attribute* attr = inst.block->body.FindAttribute(name);
    if (attr == nullptr) {
      return std::optional<hcl::Value>();
    }
    if (auto it = inst.cache.find(name); it != inst.cache.end()) {
      return std::optional<hcl::Value>(it->second);
    }
    const auto key = std::make_pair(&inst, name);
    if (in_progress_.contains(key)) {
      return hcl::LocatedError(attr->expr->range, "Reference cycle",
                               "target." + inst.name + "." + name + " depends on itself");
    }
    in_progress_.insert(key);
    Result<hcl::Value> v = globals_->evaluator().Evaluate(*attr->expr, *inst.scope);
    in_progress_.erase(key);
    if (!v.ok()) {
      return std::move(v).error();
    }
    inst.cache[name] = *v;
    return std::optional<hcl::Value>(std::move(v).value());
  }

  Result<Target> Decode(Instance& inst) {
    Target t;
    t.name = inst.name;
    t.location = inst.block->type_range.ToString();
    for (const hcl::Attribute& a : inst.block->body.attributes) {
      const Field* field = FindField(a.name);
      if (field == nullptr) {
        continue;  // matrix, name
      }
      std::optional<hcl::Value> v = BERTH_TRY(Evaluate(inst, a.name));
      BERTH_TRY(SetField(&t, *field, a, *v));
    }
    return t;
  }

  // `target.<name>` or `target.<name>.<attr>`: the merged value over every block of that name.
  Result<std::optional<hcl::Resolution>> ResolveReference(
      const std::string& root, const std::vector<hcl::TraversalStep>& steps,
      const hcl::Range& range) {
    if (root != "target" || steps.empty() || steps[0].index) {
      return std::optional<hcl::Resolution>();
    }
    auto it = by_name_.find(steps[0].name);
    if (it == by_name_.end()) {
      return hcl::LocatedError(steps[0].range, "Unknown target",
                               "There is no target named " + QuoteString(steps[0].name) + ".");
    }
    if (steps.size() >= 2 && !steps[1].index) {
      const std::string& attr = steps[1].name;
      if (attr == "name") {
        return std::optional<hcl::Resolution>(
            hcl::Resolution{hcl::Value::String(steps[0].name), 2});
      }
      const Field* field = FindField(attr);
      if (field == nullptr) {
        return hcl::LocatedError(steps[1].range, "Unsupported attribute",
                                 "Targets have no attribute named " + QuoteString(attr) + ".");
      }
      Target merged;
      for (Instance* inst : it->second) {
        std::optional<hcl::Value> v = BERTH_TRY(Evaluate(*inst, attr));
        if (!v) {
          continue;
        }
        Target part;
        BERTH_TRY(SetField(&part, *field, *inst->block->body.FindAttribute(attr), *v));
        merged.Merge(part);
      }
      return std::optional<hcl::Resolution>(hcl::Resolution{FieldValue(merged, *field), 2});
    }
    Target merged;
    merged.name = steps[0].name;
    for (Instance* inst : it->second) {
      merged.Merge(BERTH_TRY(Decode(*inst)));
    }
    (void)range;
    return std::optional<hcl::Resolution>(hcl::Resolution{TargetValue(merged), 1});
  }

  Result<> DecodeGroups(Config* config) {
    for (const hcl::File& f : files_) {
      for (const hcl::Block& b : f.body.blocks) {
        if (b.type != "group") {
          continue;
        }
        Group g;
        g.name = b.labels[0];
        g.location = b.type_range.ToString();
        const hcl::Attribute* targets = b.body.FindAttribute("targets");
        if (targets == nullptr) {
          return hcl::LocatedError(b.type_range, "Missing required argument",
                                   "The argument \"targets\" is required, but no definition was "
                                   "found.");
        }
        Target scratch;
        hcl::Value v = BERTH_TRY(globals_->evaluator().Evaluate(*targets->expr, *root_));
        BERTH_TRY(SetField(&scratch, *FindField("tags"), *targets, v));
        g.targets = scratch.tags.value_or(std::vector<std::string>());
        if (const hcl::Attribute* d = b.body.FindAttribute("description")) {
          hcl::Value dv = BERTH_TRY(globals_->evaluator().Evaluate(*d->expr, *root_));
          BERTH_TRY(SetField(&scratch, *FindField("description"), *d, dv));
          g.description = scratch.description;
        }
        // A later block of the same name replaces the earlier one (buildx decodes groups into
        // place; only targets have a Merge).
        Group* existing = nullptr;
        for (Group& c : config->groups) {
          if (c.name == g.name) {
            existing = &c;
          }
        }
        if (existing != nullptr) {
          *existing = std::move(g);
        } else {
          config->groups.push_back(std::move(g));
        }
      }
    }
    for (Group& g : renamed_) {
      std::vector<std::string> names;
      for (const std::string& n : g.targets) {
        if (std::find(names.begin(), names.end(), n) == names.end()) {
          names.push_back(n);
        }
      }
      g.targets = std::move(names);
      Group* existing = nullptr;
      for (Group& c : config->groups) {
        if (c.name == g.name) {
          existing = &c;
        }
      }
      if (existing != nullptr) {
        for (const std::string& n : g.targets) {
          if (std::find(existing->targets.begin(), existing->targets.end(), n) ==
              existing->targets.end()) {
            existing->targets.push_back(n);
          }
        }
      } else {
        config->groups.push_back(std::move(g));
      }
    }
    return {};
  }

  const LoadOptions& options_;
  std::vector<hcl::File> files_;
  std::unique_ptr<hcl::Globals> globals_;
  std::unique_ptr<hcl::Scope> root_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::map<std::string, std::vector<Instance*>> by_name_;
  std::set<std::pair<Instance*, std::string>> in_progress_;
  std::vector<Group> renamed_;
};

}  // namespace

Result<Config> LoadHcl(const std::vector<const BakeFile*>& files, const LoadOptions& options,
                       std::vector<VariableInfo>* variables) {
  HclLoader loader(options);
  return loader.Run(files, variables);
}

}  // namespace berth::frontend::bake::internal
