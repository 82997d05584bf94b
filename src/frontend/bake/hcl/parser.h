// The HCL2 native-syntax parser: text -> File (ast.h).
//
// Pure functions, safe from any thread. Errors are InvalidArgument with a location:
// "docker-bake.hcl:3:12: Invalid expression; Expected the start of an expression, but found
// an invalid token.". The parser never crashes and runs in time linear in its input; nesting
// (brackets, templates, blocks) deeper than ParseLimits::max_depth is an error rather than a
// stack overflow.
#pragma once

#include <string_view>

#include "base/result.h"
#include "frontend/bake/hcl/ast.h"

namespace berth::frontend::bake::hcl {

struct ParseLimits {
  int max_depth = 128;  // nested expressions, templates and blocks
  size_t max_source_bytes = 16 << 20;
};

// Parses a whole file (a body of attributes and blocks).
Result<File> Parse(std::string_view source, std::string_view file_name,
                   const ParseLimits& limits = {});

// Parses a single expression (all of `source`, surrounding white space and newlines allowed).
// `origin` is where `source` starts in its file (for an expression taken from a larger text,
// such as a JSON string); ranges are reported relative to it.
Result<ExprPtr> ParseExpression(std::string_view source, std::string_view file_name,
                                const ParseLimits& limits = {}, const Pos& origin = {});

// Parses `source` as the inside of a template, as if it were a quoted string's content without
// the quotes (so `${a}-${b}` and `%{if x}...%{endif}`; newlines allowed, no escapes).
Result<ExprPtr> ParseTemplate(std::string_view source, std::string_view file_name,
                              const ParseLimits& limits = {}, const Pos& origin = {});

}  // namespace berth::frontend::bake::hcl
