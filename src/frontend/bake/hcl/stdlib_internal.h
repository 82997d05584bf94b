// Helpers shared by the standard library's source files. Internal to the hcl component.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frontend/bake/hcl/eval.h"

namespace berth::frontend::bake::hcl::internal {

using Args = std::vector<Value>;
using Impl = std::function<Result<Value>(CallContext& ctx, Args& args)>;

// Registers `name` taking min..max arguments (max < 0: variadic).
void Define(Scope* scope, const std::string& name, int min_args, int max_args, Impl impl);

// Argument accessors: convert like cty's typed parameters and name the argument in errors.
Result<std::string> StringArg(const Args& args, size_t i, std::string_view name);
Result<double> NumberArg(const Args& args, size_t i, std::string_view name);
// A whole number (cty functions that take counts and indexes).
Result<int64_t> IntArg(const Args& args, size_t i, std::string_view name);
Result<bool> BoolArg(const Args& args, size_t i, std::string_view name);
// A list, set or tuple.
Result<Value> SequenceArg(const Args& args, size_t i, std::string_view name);
// A map or object.
Result<Value> MappingArg(const Args& args, size_t i, std::string_view name);

// Per-file registration (stdlib.cc calls these).
void DefineStringFunctions(Scope* scope);
void DefineCollectionFunctions(Scope* scope);
void DefineNumericFunctions(Scope* scope);
void DefineEncodingFunctions(Scope* scope);
void DefineCryptoFunctions(Scope* scope);
void DefineRegexFunctions(Scope* scope);
void DefineTimeFunctions(Scope* scope);
void DefineNetworkFunctions(Scope* scope);
void DefineMiscFunctions(Scope* scope);

// UTF-8 helpers: code points of `s` as byte offsets (one past the end included).
std::vector<size_t> RuneOffsets(std::string_view s);

}  // namespace berth::frontend::bake::hcl::internal
