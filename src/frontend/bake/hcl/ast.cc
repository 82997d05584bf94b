#include "frontend/bake/hcl/ast.h"

#include <set>

namespace berth::frontend::bake::hcl {

const std::string& Range::filename() const {
  static const std::string empty;
  return file ? *file : empty;
}

std::string Range::ToString() const {
  return filename() + ":" + std::to_string(start.line) + ":" + std::to_string(start.column);
}

Error LocatedError(const Range& range, std::string_view summary, std::string_view detail) {
  std::string message = range.ToString() + ": " + std::string(summary);
  if (!detail.empty()) {
    message += "; ";
    message += detail;
  }
  return Error::InvalidArgument(std::move(message));
}

namespace {

void Collect(const Expr& expr, std::vector<std::string>* bound, std::vector<Reference>* vars,
             std::vector<Reference>* calls) {
  switch (expr.kind) {
    case ExprKind::kVariable: {
      bool is_bound = false;
      for (const std::string& b : *bound) {
        is_bound = is_bound || b == expr.name;
      }
      if (!is_bound && vars != nullptr) {
        vars->push_back({expr.name, expr.range});
      }
      return;
    }
    case ExprKind::kCall:
      if (calls != nullptr) {
        calls->push_back({expr.name, expr.range});
      }
      break;
    case ExprKind::kFor:
    case ExprKind::kTemplateFor: {
      // The collection is outside the loop's scope; the rest inside.
      if (!expr.children.empty() && expr.children[0]) {
        Collect(*expr.children[0], bound, vars, calls);
      }
      const size_t mark = bound->size();
      if (!expr.key_var.empty()) {
        bound->push_back(expr.key_var);
      }
      bound->push_back(expr.value_var);
      for (size_t i = 1; i < expr.children.size(); ++i) {
        if (expr.children[i]) {
          Collect(*expr.children[i], bound, vars, calls);
        }
      }
      bound->resize(mark);
      return;
    }
    default:
      break;
  }
  for (const ExprPtr& child : expr.children) {
    if (child) {
      Collect(*child, bound, vars, calls);
    }
  }
}

}  // namespace

std::vector<Reference> CollectReferences(const Expr& expr) {
  std::vector<std::string> bound;
  std::vector<Reference> out;
  Collect(expr, &bound, &out, nullptr);
  return out;
}

std::vector<Reference> CollectFunctionCalls(const Expr& expr) {
  std::vector<std::string> bound;
  std::vector<Reference> out;
  Collect(expr, &bound, nullptr, &out);
  return out;
}

std::string ExprAsKeyword(const Expr& expr) {
  return expr.kind == ExprKind::kVariable ? expr.name : "";
}

const Attribute* Body::FindAttribute(std::string_view name) const {
  for (const Attribute& a : attributes) {
    if (a.name == name) {
      return &a;
    }
  }
  return nullptr;
}

}  // namespace berth::frontend::bake::hcl
