#include "frontend/bake/hcl/eval.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "frontend/bake/hcl/parser.h"

namespace berth::frontend::bake::hcl {
namespace {

// Evaluates `text` with the stdlib and a few variables; the result as a debug string or
// "error: <message>".
std::string Eval(std::string_view text, EvalLimits limits = {}) {
  Result<ExprPtr> e = ParseExpression(text, "t.hcl");
  if (!e.ok()) {
    return "parse error: " + e.error().message();
  }
  Scope scope(&StdlibScope());
  scope.Set("n", Value::Number(3));
  scope.Set("s", Value::String("str"));
  scope.Set("list", Value::Tuple({Value::String("a"), Value::String("b")}));
  scope.Set("objs", Value::Tuple({Value::Object({{"name", Value::String("x")},
                                                 {"tags", Value::Tuple({Value::Number(1)})}}),
                                  Value::Object({{"name", Value::String("y")},
                                                 {"tags", Value::Tuple({Value::Number(2)})}})}));
  scope.Set("obj", Value::Object({{"k", Value::String("v")}, {"n", Value::Null()}}));
  scope.Set("nothing", Value::Null());
  Evaluator ev(limits);
  Result<Value> v = ev.Evaluate(**e, scope);
  return v.ok() ? ValueDebugString(*v) : "error: " + v.error().message();
}

bool Fails(std::string_view text, std::string_view needle) {
  std::string out = Eval(text);
  const bool ok = out.starts_with("error: ") && out.find(needle) != std::string::npos;
  if (!ok) {
    ADD_FAILURE() << text << " gave " << out << ", want an error with " << needle;
  }
  return ok;
}

TEST(Eval, Arithmetic) {
  EXPECT_EQ(Eval("1 + 2 * 3"), "7");
  EXPECT_EQ(Eval("(1 + 2) * 3"), "9");
  EXPECT_EQ(Eval("7 / 2"), "3.5");
  EXPECT_EQ(Eval("7 % 3"), "1");
  EXPECT_EQ(Eval("-7 % 3"), "-1");
  EXPECT_EQ(Eval("-n"), "-3");
  EXPECT_EQ(Eval("\"2\" + 1"), "3");
  EXPECT_EQ(Eval("0.1 + 0.2"), "0.30000000000000004");
  EXPECT_EQ(Eval("1e15 * 10"), "10000000000000000");
  Fails("1 / 0", "can't divide by zero");
  Fails("1 + \"x\"", "Invalid operand");
  Fails("1 + [1]", "Unsuitable value for right operand");
}

TEST(Eval, ComparisonAndLogic) {
  EXPECT_EQ(Eval("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 4"), "false");
  EXPECT_EQ(Eval("1 == 1 && \"a\" != \"b\""), "true");
  EXPECT_EQ(Eval("1 == \"1\""), "false");
  EXPECT_EQ(Eval("[1, 2] == [1, 2]"), "true");
  EXPECT_EQ(Eval("{a = 1} == {a = 1}"), "true");
  EXPECT_EQ(Eval("null == nothing"), "true");
  EXPECT_EQ(Eval("!true || false"), "false");
  EXPECT_EQ(Eval("\"true\" && true"), "true");
  // && and || short-circuit, so a guard protects the right side.
  EXPECT_EQ(Eval("nothing != null && nothing.x"), "false");
  EXPECT_EQ(Eval("true || undefined_var"), "true");
  Fails("1 && true", "Invalid operand");
}

TEST(Eval, Conditional) {
  EXPECT_EQ(Eval("n > 2 ? \"big\" : \"small\""), "\"big\"");
  EXPECT_EQ(Eval("false ? 1 : true ? 2 : 3"), "2");
  Fails("nothing ? 1 : 2", "Incorrect condition type");
  Fails("\"x\" ? 1 : 2", "Incorrect condition type");
}

TEST(Eval, Templates) {
  EXPECT_EQ(Eval("\"n=${n}, s=${s}, b=${true}\""), "\"n=3, s=str, b=true\"");
  // A template that is one interpolation yields the value itself.
  EXPECT_EQ(Eval("\"${list}\""), "[\"a\", \"b\"]");
  EXPECT_EQ(Eval("\"${\"nested ${n}\"}\""), "\"nested 3\"");
  EXPECT_EQ(Eval("\"%{if n > 2}big%{else}small%{endif}\""), "\"big\"");
  EXPECT_EQ(Eval("\"%{for i, v in list}${i}=${v};%{endfor}\""), "\"0=a;1=b;\"");
  EXPECT_EQ(Eval("\"%{for k, v in obj}${k}%{endfor}\""), "\"kn\"");
  EXPECT_EQ(Eval("\"a ${~ \"b\" ~} c\""), "\"abc\"");
  EXPECT_EQ(Eval("\"x  %{~ if true ~}  y  %{~ endif ~}  z\""), "\"xyz\"");
  Fails("\"x${nothing}\"", "Invalid template interpolation value");
  Fails("\"x${list}\"", "Cannot include the given value in a string template");
  Fails("\"%{if 1}x%{endif}\"", "Invalid template if condition");
}

TEST(Eval, Collections) {
  EXPECT_EQ(Eval("[1, \"a\", true, null]"), "[1, \"a\", true, null]");
  EXPECT_EQ(Eval("{b = 2, a = 1}"), "{a = 1, b = 2}");
  EXPECT_EQ(Eval("{(s) = 1, \"${s}2\" = 2}"), "{str = 1, str2 = 2}");
  EXPECT_EQ(Eval("list[1]"), "\"b\"");
  EXPECT_EQ(Eval("list.0"), "\"a\"");
  EXPECT_EQ(Eval("obj.k"), "\"v\"");
  EXPECT_EQ(Eval("obj[\"k\"]"), "\"v\"");
  EXPECT_EQ(Eval("objs[1].tags[0]"), "2");
  EXPECT_EQ(Eval("list[\"1\"]"), "\"b\"");
  Fails("list[2]", "Invalid index");
  Fails("list[-1]", "negative number");
  Fails("list[0.5]", "whole number");
  Fails("obj.missing", "Unsupported attribute");
  Fails("obj[\"missing\"]", "Invalid index");
  Fails("nothing.x", "Attempt to get attribute from null value");
  Fails("nothing[0]", "Attempt to index null value");
  Fails("s.x", "Can't access attributes on a primitive-typed value (string)");
  Fails("list.x", "Can't access attributes on a tuple");
}

TEST(Eval, ForExpressions) {
  EXPECT_EQ(Eval("[for v in list : upper(v)]"), "[\"A\", \"B\"]");
  EXPECT_EQ(Eval("[for i, v in list : \"${i}${v}\"]"), "[\"0a\", \"1b\"]");
  EXPECT_EQ(Eval("[for v in [1, 2, 3, 4] : v * v if v % 2 == 0]"), "[4, 16]");
  EXPECT_EQ(Eval("{for v in list : v => upper(v)}"), "{a = \"A\", b = \"B\"}");
  EXPECT_EQ(Eval("{for k, v in obj : v => k if v != null}"), "{v = \"k\"}");
  EXPECT_EQ(Eval("{for v in [\"a\", \"b\", \"a\"] : v => v...}"),
            "{a = [\"a\", \"a\"], b = [\"b\"]}");
  EXPECT_EQ(Eval("[for o in objs : o.name]"), "[\"x\", \"y\"]");
  Fails("{for v in [\"a\", \"a\"] : v => v}", "Duplicate object key");
  Fails("[for v in nothing : v]", "Iteration over null value");
  Fails("[for v in 1 : v]", "Iteration over non-iterable value");
  Fails("[for v in list : v if 1]", "Invalid 'for' condition");
}

TEST(Eval, Splats) {
  EXPECT_EQ(Eval("objs[*].name"), "[\"x\", \"y\"]");
  EXPECT_EQ(Eval("objs.*.name"), "[\"x\", \"y\"]");
  EXPECT_EQ(Eval("objs[*].tags[0]"), "[1, 2]");
  EXPECT_EQ(Eval("nothing[*]"), "[]");
  EXPECT_EQ(Eval("obj[*].k"), "[\"v\"]");
  EXPECT_EQ(Eval("length(objs[*])"), "2");
}

TEST(Eval, FunctionCalls) {
  EXPECT_EQ(Eval("max(list...)").substr(0, 6), "error:");
  EXPECT_EQ(Eval("max([1, 5, 2]...)"), "5");
  EXPECT_EQ(Eval("join(\"-\", list)"), "\"a-b\"");
  EXPECT_EQ(Eval("try(nothing.x, \"fallback\")"), "\"fallback\"");
  EXPECT_EQ(Eval("can(nothing.x)"), "false");
  EXPECT_EQ(Eval("can(obj.k)"), "true");
  EXPECT_EQ(Eval("convert(\"1\", number)"), "1");
  EXPECT_EQ(Eval("convert([1, 2], list(string))"), "[\"1\", \"2\"]");
  Fails("nosuch(1)", "t.hcl:1:1: Call to unknown function; There is no function named \"nosuch\".");
  Fails("upper()", "Not enough function arguments");
  Fails("upper(\"a\", \"b\")", "Too many function arguments");
  Fails("upper([1])", "Call to function \"upper\" failed");
  Fails("max(nothing...)", "must not be null");
  Fails("try(nothing.x, nothing.y)", "no expression succeeded");
}

TEST(Eval, UnknownVariableHasLocation) {
  EXPECT_EQ(Eval("\"x ${nope}\""),
            "error: t.hcl:1:6: Unknown variable; There is no variable named \"nope\".");
}

TEST(Eval, ResolverSeesTraversals) {
  Result<ExprPtr> e = ParseExpression("target.app.tags[0]", "t.hcl");
  ASSERT_TRUE(e.ok());
  Scope scope(&StdlibScope());
  std::vector<std::string> seen;
  scope.SetResolver([&](Evaluator&, const std::string& root,
                        const std::vector<TraversalStep>& steps,
                        const Range&) -> Result<std::optional<Resolution>> {
    std::string s = root;
    for (const TraversalStep& step : steps) {
      s += step.index ? "[" + FormatNumber(*step.index) + "]" : "." + step.name;
    }
    seen.push_back(s);
    if (root != "target") {
      return std::optional<Resolution>();
    }
    // Resolve only target.<name>.<attr>; the evaluator applies the rest.
    return std::optional<Resolution>(
        Resolution{Value::Tuple({Value::String(steps[0].name + ":" + steps[1].name)}), 2});
  });
  Evaluator ev;
  Result<Value> v = ev.Evaluate(**e, scope);
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->AsString(), "app:tags");
  EXPECT_EQ(seen, std::vector<std::string>{"target.app.tags[0]"});
}

TEST(Eval, ResolverCycleDetection) {
  // A resolver that evaluates attributes lazily and reports cycles, as the bake layer will.
  Result<ExprPtr> a = ParseExpression("target.b.x", "t.hcl");
  Result<ExprPtr> b = ParseExpression("target.a.x", "t.hcl");
  ASSERT_TRUE(a.ok() && b.ok());
  std::map<std::string, ExprPtr> attrs = {{"a", *a}, {"b", *b}};
  std::set<std::string> in_progress;
  Scope scope(&StdlibScope());
  scope.SetResolver([&](Evaluator& ev, const std::string& root,
                        const std::vector<TraversalStep>& steps,
                        const Range& range) -> Result<std::optional<Resolution>> {
    if (root != "target" || steps.size() < 2) {
      return std::optional<Resolution>();
    }
    const std::string key = steps[0].name;
    if (in_progress.contains(key)) {
      return LocatedError(range, "Cycle", "target " + key + " refers to itself");
    }
    in_progress.insert(key);
    Result<Value> v = ev.Evaluate(*attrs.at(key), scope);
    in_progress.erase(key);
    if (!v.ok()) {
      return std::move(v).error();
    }
    return std::optional<Resolution>(Resolution{*v, 2});
  });
  Evaluator ev;
  Result<Value> v = ev.Evaluate(**a, scope);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("target b refers to itself"), std::string::npos)
      << v.error().message();
}

TEST(Eval, EvaluateAsReportsUnsuitableType) {
  Result<ExprPtr> e = ParseExpression("[1, 2]", "t.hcl");
  ASSERT_TRUE(e.ok());
  Evaluator ev;
  Result<Value> v = ev.EvaluateAs(**e, StdlibScope(), Type::String());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(),
            "t.hcl:1:1: Unsuitable value type; Unsuitable value: string required");
  Result<Value> ok = ev.EvaluateAs(**e, StdlibScope(), Type::List(Type::String()));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ValueDebugString(*ok), "[\"1\", \"2\"]");
}

TEST(Eval, TypeExpressions) {
  auto type = [](std::string_view text) -> std::string {
    Result<ExprPtr> e = ParseExpression(text, "t.hcl");
    if (!e.ok()) {
      return "parse error";
    }
    Result<Type> t = Evaluator::EvaluateType(**e);
    return t.ok() ? t->FriendlyName() : "error: " + t.error().message();
  };
  EXPECT_EQ(type("string"), "string");
  EXPECT_EQ(type("list(number)"), "list of number");
  EXPECT_EQ(type("map(set(bool))"), "map of set of bool");
  EXPECT_EQ(type("tuple([number, string])"), "tuple");
  EXPECT_EQ(type("object({a = string, b = optional(number)})"), "object");
  EXPECT_EQ(type("any"), "dynamic");
  EXPECT_NE(type("strin").find("Invalid type specification"), std::string::npos);
  EXPECT_NE(type("list").find("requires one argument"), std::string::npos);
  EXPECT_NE(type("\"string\"").find("Invalid type specification"), std::string::npos);
}

TEST(EvalLimits, WorkBudget) {
  EvalLimits limits;
  limits.max_work = 10000;
  const std::string out = Eval("[for a in range(1000) : [for b in range(1000) : b]]", limits);
  EXPECT_NE(out.find("Evaluation too expensive"), std::string::npos) << out;
}

TEST(EvalLimits, StringAndCollectionSizes) {
  EvalLimits limits;
  limits.max_string_bytes = 1000;
  limits.max_collection_size = 100;
  EXPECT_NE(Eval("format(\"%2000d\", 1)", limits).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(Eval("join(\",\", [for i in range(500) : \"xyz\"])", limits).find("limit"),
            std::string::npos);
  EXPECT_NE(Eval("concat(range(90), range(90))", limits).find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(Eval("range(1e9)").find("more than 1024 values"), std::string::npos);
  EXPECT_NE(Eval("format(\"%99999999d\", 1)").find("too large"), std::string::npos);
}

TEST(EvalLimits, ValueWeight) {
  EvalLimits limits;
  limits.max_value_weight = 1000;
  EXPECT_NE(Eval("[for i in range(100) : range(100)]", limits).find("Value too large"),
            std::string::npos);
  // Sharing does not hide size: each level multiplies the weight.
  EXPECT_NE(Eval("[for a in range(20) : [for b in range(20) : [for c in range(20) : c]]]", limits)
                .find("Value too large"),
            std::string::npos);
}

TEST(EvalLimits, RegexCostAndJsonDepth) {
  EXPECT_NE(Eval("regex(\"(a|b)*c\", join(\"\", [for i in range(1000) : \"aaaaaaaaaa\"]))")
                .find("too long to match"),
            std::string::npos);
  EXPECT_NE(Eval("regex(\"a{100}{100}\", \"a\")").find("counted repetition is too large"),
            std::string::npos);
  const std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_NE(Eval("jsondecode(\"" + deep + "\")").find("too deep"), std::string::npos);
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
