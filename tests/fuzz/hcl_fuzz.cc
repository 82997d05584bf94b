// libFuzzer target for the HCL parser and evaluator (frontend/bake/hcl), which read untrusted
// bake files.
//
// The input is parsed as a native-syntax file, as a JSON-syntax file, as one expression and as
// a template. A file that parses has
// its globals resolved (with environment values for a few names, so typed overrides run too)
// and every attribute of every block evaluated, with a resolver for `target.<name>.<attr>` that
// evaluates other targets' attributes lazily and detects cycles, as the bake layer does. Limits
// are small so that each input runs quickly. Besides crashes, hangs and sanitizer reports, the
// target traps when an error lacks its "<file>:" location prefix.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "frontend/bake/hcl/hcl.h"

namespace {

namespace hcl = berth::frontend::bake::hcl;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

hcl::EvalLimits Limits() {
  hcl::EvalLimits limits;
  limits.max_call_depth = 8;
  limits.max_string_bytes = 1 << 16;
  limits.max_collection_size = 1 << 12;
  limits.max_work = 200000;
  limits.max_value_weight = 1 << 16;
  return limits;
}

class TargetResolver {
 public:
  explicit TargetResolver(const hcl::File& file) {
    for (const hcl::Block& b : file.body.blocks) {
      if (b.type == "target" && b.labels.size() == 1) {
        targets_.emplace(b.labels[0], &b.body);
      }
    }
  }

  berth::Result<std::optional<hcl::Resolution>> operator()(
      hcl::Evaluator& ev, const std::string& root, const std::vector<hcl::TraversalStep>& steps,
      const hcl::Range& range) {
    if (root != "target" || steps.size() < 2 || steps[0].index || steps[1].index) {
      return std::optional<hcl::Resolution>();
    }
    auto t = targets_.find(steps[0].name);
    if (t == targets_.end()) {
      return std::optional<hcl::Resolution>();
    }
    const hcl::Attribute* attr = t->second->FindAttribute(steps[1].name);
    if (attr == nullptr) {
      return std::optional<hcl::Resolution>();
    }
    const std::string key = steps[0].name + "." + steps[1].name;
    if (!in_progress_.insert(key).second) {
      return hcl::LocatedError(range, "Reference cycle", key + " refers to itself");
    }
    berth::Result<hcl::Value> v = ev.Evaluate(*attr->expr, *scope_ptr_);
    in_progress_.erase(key);
    if (!v.ok()) {
      return std::move(v).error();
    }
    return std::optional<hcl::Resolution>(hcl::Resolution{std::move(v).value(), 2});
  }

  void set_scope(const hcl::Scope* scope) { scope_ptr_ = scope; }

 private:
  const hcl::Scope* scope_ptr_ = nullptr;
  std::map<std::string, const hcl::Body*> targets_;
  std::set<std::string> in_progress_;
};

void CheckError(const berth::Error& e, std::string_view prefix) {
  Check(e.message().starts_with(prefix));
}

void EvaluateBody(const hcl::Body& body, hcl::Evaluator& ev, const hcl::Scope& scope, int depth,
                  std::string_view prefix) {
  if (depth > 4) {
    return;
  }
  for (const hcl::Attribute& attr : body.attributes) {
    berth::Result<hcl::Value> v = ev.Evaluate(*attr.expr, scope);
    if (!v.ok()) {
      CheckError(v.error(), prefix);
    } else {
      (void)hcl::JsonEncode(*v, 1 << 20);
    }
  }
  for (const hcl::Block& b : body.blocks) {
    EvaluateBody(b.body, ev, scope, depth + 1, prefix);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  berth::Result<hcl::ExprPtr> expr = hcl::ParseExpression(input, "expr.hcl");
  if (expr.ok()) {
    hcl::Evaluator ev(Limits());
    berth::Result<hcl::Value> v = ev.Evaluate(**expr, hcl::StdlibScope());
    if (!v.ok()) {
      CheckError(v.error(), "expr.hcl:");
    }
  } else {
    CheckError(expr.error(), "expr.hcl:");
  }
  berth::Result<hcl::ExprPtr> tmpl = hcl::ParseTemplate(input, "tmpl.hcl");
  if (!tmpl.ok()) {
    CheckError(tmpl.error(), "tmpl.hcl:");
  }

  berth::Result<hcl::File> json = hcl::ParseJson(input, "docker-bake.json");
  if (json.ok()) {
    berth::Result<std::unique_ptr<hcl::Globals>> g = hcl::Globals::Load({&*json}, [] {
      hcl::GlobalsOptions o;
      o.limits = Limits();
      return o;
    }());
    if (g.ok()) {
      EvaluateBody(json->body, (*g)->evaluator(), (*g)->scope(), 0, "docker-bake.json:");
    } else {
      CheckError(g.error(), "docker-bake.json:");
    }
  } else {
    CheckError(json.error(), "docker-bake.json:");
  }

  berth::Result<hcl::File> file = hcl::Parse(input, "docker-bake.hcl");
  if (!file.ok()) {
    CheckError(file.error(), "docker-bake.hcl:");
    return 0;
  }
  hcl::GlobalsOptions options;
  options.limits = Limits();
  options.builtins = {{"BAKE_LOCAL_PLATFORM", "linux/amd64"}};
  options.lookup_env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "FOO") {
      return "1,2,3";
    }
    if (name == "BAR_JSON") {
      return "[\"a\", 1]";
    }
    if (name == "TAG") {
      return "true";
    }
    return std::nullopt;
  };
  berth::Result<std::unique_ptr<hcl::Globals>> globals = hcl::Globals::Load({&*file}, options);
  if (!globals.ok()) {
    CheckError(globals.error(), "docker-bake.hcl:");
    return 0;
  }
  for (const hcl::VariableInfo& v : (*globals)->Variables()) {
    Check(!v.name.empty());
  }
  hcl::Scope targets(&(*globals)->scope());
  TargetResolver resolver(*file);
  resolver.set_scope(&targets);
  targets.SetResolver(
      [&resolver](hcl::Evaluator& ev, const std::string& root,
                  const std::vector<hcl::TraversalStep>& steps,
                  const hcl::Range& range) { return resolver(ev, root, steps, range); });
  EvaluateBody(file->body, (*globals)->evaluator(), targets, 0, "docker-bake.hcl:");
  return 0;
}
