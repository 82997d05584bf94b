// hcl: the HCL2 native-syntax parser and evaluator behind `berth bake` (issue 7).
//
// Bake files (docker-bake.hcl) are HCL2: bodies of attributes and blocks (`target "app" {...}`,
// `group`, `variable`, `function`), expressions with interpolated strings and heredocs, `for`
// expressions, splats and function calls, evaluated with go-cty's value and conversion rules
// and the function library buildx exposes. This component reproduces that behaviour:
//
//   value.h    Value (null, bool, number, string, list/set/tuple, map/object), Type (cty type
//              constraints), Convert, JSON encoding and decoding.
//   ast.h      the syntax tree: File -> Body -> Attribute / Block, expressions with ranges.
//   parser.h   Parse (files), ParseExpression, ParseTemplate. Comments `#`, `//`, `/* */`;
//              strings with `${...}`, `%{if}`/`%{for}` directives, `~` strip markers, `$${`
//              and `%%{` escapes; heredocs `<<EOT` and `<<-EOT`.
//   eval.h     Scope, Evaluator (limits on work, string and collection sizes, call depth),
//              Resolver (lazy names such as `target.x.tags`), StdlibScope().
//   json_syntax.h  ParseJson: HCL's JSON syntax (docker-bake.json) into the same File model.
//   globals.h  Globals::Load (or Prepare + ResolveAll): variables (typed, env and --var
//              overrides, CSV and _JSON forms, validation), user functions and top-level
//              attributes, as buildx resolves them.
//
// Typical use by the bake layer:
//
//   File file = BERTH_TRY(Parse(text, "docker-bake.hcl"));  // or ParseJson
//   auto globals = BERTH_TRY(Globals::Prepare({&file}, {.lookup_env = Getenv}));
//   // `target.x.attr` anywhere (also in globals): evaluate x's attr in globals->scope(),
//   // tracking what is in progress to report cycles.
//   globals->SetFallbackResolver(ResolveTargetReference);
//   BERTH_TRY(globals->ResolveAll());
//   Scope matrix(&globals->scope());  // per matrix combination: matrix.Set("item", value)
//   Value tags = BERTH_TRY(globals->evaluator().EvaluateAs(
//       *block.body.FindAttribute("tags")->expr, matrix, Type::List(Type::String())));
//
// Errors are Result<> values (nothing throws) whose message starts with the location:
// "docker-bake.hcl:12:5: Unknown variable; There is no variable named "FOO"." (columns count
// bytes). Parsing is linear and depth-limited; evaluation is bounded by EvalLimits, so any input
// fails cleanly rather than crashing, hanging or exhausting memory.
//
// The standard library (StdlibFunctionNames()) has every function of buildx's
// bake/hclparser/stdlib.go, plus buildx's newer `homedir`, `semvercmp` and
// `unixtimestampparse`. Known differences from go-cty:
//   - bcrypt hashes through libxcrypt; its 2^cost rounds count against EvalLimits::max_work
//     (costs up to 18 with the default limits);
//   - numbers are doubles, not arbitrary-precision decimals (integers are exact to 2^53);
//   - upper and title change ASCII letters only (lower is Unicode-aware); strlen, substr and
//     length count code points, not grapheme clusters; length also accepts a string;
//   - regex functions use std::regex (ECMAScript, polynomial-time executor) with RE2 syntax
//     translated: named groups `(?P<n>...)`, leading flags `(?i)`, `(?s)`, `(?m)`, `\A`, `\z`;
//     refused: Unicode classes `\p{...}`, `\Q...\E`, inline flags elsewhere, back references,
//     counted repetitions whose product exceeds 1000; `.` matches a byte, not a character;
//     the subject may be at most about sqrt(2e8 / pattern size) bytes long (the executor
//     restarts at every position);
//   - lists and tuples (maps and objects) compare equal when their elements do; conditional
//     results are not unified to one type;
//   - sets of collections are ordered by value rather than by cty's hash.
#pragma once

#include "frontend/bake/hcl/ast.h"
#include "frontend/bake/hcl/eval.h"
#include "frontend/bake/hcl/globals.h"
#include "frontend/bake/hcl/json_syntax.h"
#include "frontend/bake/hcl/parser.h"
#include "frontend/bake/hcl/value.h"
