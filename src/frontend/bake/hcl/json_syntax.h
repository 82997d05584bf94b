// HCL's JSON syntax (docker-bake.json) read into the same File model as the native syntax, so
// the bake layer evaluates both alike.
//
// As in hashicorp/hcl's json package, what is a block depends on a schema: top-level properties
// named by JsonSchema::blocks are block types whose properties are labels (`"target": {"app":
// {...}}`; a label's value may be an array of bodies for repeated blocks), nested block types
// (`validation` in `variable`) take an object or an array of objects; every other property is an
// attribute. Attribute values become expressions: strings are templates (`"${TAG}"`), numbers,
// bools and null literals, arrays tuples, objects object constructors. Where an expression is
// wanted rather than a value (a variable's `type`, a function's `params` and
// `variadic_params`), strings are read as expressions or names.
//
// Errors and ranges carry "<file>:<line>:<col>" like the native parser's; positions inside a
// string with escapes are approximate. Duplicate properties, depth beyond ParseLimits::max_depth
// and malformed JSON are InvalidArgument errors.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "frontend/bake/hcl/ast.h"
#include "frontend/bake/hcl/parser.h"

namespace berth::frontend::bake::hcl {

struct JsonSchema {
  // Top-level block types (each with one label).
  std::set<std::string> blocks = {"target", "group", "variable", "function"};
  // Block types nested in a block type (without labels).
  std::map<std::string, std::set<std::string>> nested = {{"variable", {"validation"}}};
};

Result<File> ParseJson(std::string_view source, std::string_view file_name,
                       const JsonSchema& schema = {}, const ParseLimits& limits = {});

}  // namespace berth::frontend::bake::hcl
