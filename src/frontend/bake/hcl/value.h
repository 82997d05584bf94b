// Values and types of the HCL evaluator, modelled on go-cty (the value system HCL and buildx use).
//
// A Value is null, a bool, a number, a string, a sequence (list, set or tuple) or a mapping (map
// or object, string keys in sorted order, as cty iterates them). Numbers are doubles, formatted
// as cty formats its big floats: integers without a decimal point ("1", not "1.0"). Unknown
// values do not exist: bake evaluates everything up front. Collections are shared immutable
// storage, so copying a Value is cheap. A Type is a cty type constraint (`string`, `list(T)`,
// `object({...})`, `any`, ...) used by typed variables and by Convert.
//
// Thread-safety: Values are immutable and may be shared across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace berth::frontend::bake::hcl {

enum class ValueKind { kNull, kBool, kNumber, kString, kList, kSet, kTuple, kMap, kObject };

class Value {
 public:
  using Elements = std::vector<Value>;
  using Attributes = std::map<std::string, Value, std::less<>>;

  Value() = default;  // null
  static Value Null() { return {}; }
  static Value Bool(bool b);
  static Value Number(double n);
  static Value String(std::string s);
  static Value List(Elements elements);
  // Sorts and removes duplicates, as a cty set does (numbers numerically, strings bytewise).
  static Value Set(Elements elements);
  static Value Tuple(Elements elements);
  static Value Map(Attributes attributes);
  static Value Object(Attributes attributes);
  static Value EmptyTuple() { return Tuple({}); }
  static Value EmptyObject() { return Object({}); }

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_number() const { return kind_ == ValueKind::kNumber; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_primitive() const { return is_bool() || is_number() || is_string(); }
  // A list, set or tuple.
  bool is_sequence() const {
    return kind_ == ValueKind::kList || kind_ == ValueKind::kSet || kind_ == ValueKind::kTuple;
  }
  // A map or object.
  bool is_mapping() const { return kind_ == ValueKind::kMap || kind_ == ValueKind::kObject; }

  // REQUIRES: the matching kind.
  bool AsBool() const { return std::get<bool>(data_); }
  double AsNumber() const { return std::get<double>(data_); }
  const std::string& AsString() const { return std::get<std::string>(data_); }
  // REQUIRES: is_sequence().
  const Elements& elements() const;
  // REQUIRES: is_mapping().
  const Attributes& attributes() const;
  // Elements of a sequence or attributes of a mapping; 0 otherwise.
  size_t size() const;
  // Nesting depth: 0 for primitives and null, 1 + the deepest element for collections.
  int depth() const { return depth_; }
  // A measure of the work any walk over the value costs: 1 per node plus 1 per 64 bytes of
  // string, summed over shared parts as often as they occur (saturating). Bounds the cost of
  // values built by sharing, like a list of lists of lists of the same list.
  uint64_t weight() const { return weight_; }

  // The attribute `name` of a mapping, or nullptr.
  const Value* Find(std::string_view name) const;

  // cty's friendly type name: "string", "number", "bool", "list", "set", "tuple", "map",
  // "object", "null".
  std::string TypeName() const;

  // Structural equality: sequences compare element-wise whatever their kind, mappings by keys
  // and values, numbers numerically. (cty compares types too; bake never relies on that.)
  friend bool operator==(const Value& a, const Value& b);

 private:
  ValueKind kind_ = ValueKind::kNull;
  int depth_ = 0;
  uint64_t weight_ = 1;
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<const Elements>,
               std::shared_ptr<const Attributes>>
      data_;
};

// A total order used for sets and `sort`: by kind, then by value.
bool ValueLess(const Value& a, const Value& b);

// Formats a number the way cty does: integers as integers, others in the shortest decimal form
// that reads back to the same double ("0.1", "1e+21" is written out as digits like Go's 'f').
std::string FormatNumber(double n);
// Parses a number as cty.ParseNumberVal does: optional sign, digits, optional fraction and
// exponent; no surrounding spaces, no hex, no "inf"/"nan".
std::optional<double> ParseNumber(std::string_view text);

// The value as text in HCL-ish syntax for messages and tests: "foo" is quoted, [1, 2], {a = 1}.
std::string ValueDebugString(const Value& value);

// A cty type constraint.
class Type {
 public:
  enum class Kind { kAny, kString, kNumber, kBool, kList, kSet, kMap, kTuple, kObject };

  Type() = default;  // any
  static Type Any() { return {}; }
  static Type String() { return Type(Kind::kString); }
  static Type Number() { return Type(Kind::kNumber); }
  static Type Bool() { return Type(Kind::kBool); }
  static Type List(Type element);
  static Type Set(Type element);
  static Type Map(Type element);
  static Type Tuple(std::vector<Type> elements);
  static Type Object(std::map<std::string, Type> attributes,
                     std::vector<std::string> optional = {});

  Kind kind() const { return kind_; }
  bool is_primitive() const {
    return kind_ == Kind::kString || kind_ == Kind::kNumber || kind_ == Kind::kBool;
  }
  // REQUIRES: kList, kSet or kMap.
  const Type& element() const { return elements_.front(); }
  // REQUIRES: kTuple.
  const std::vector<Type>& tuple_elements() const { return elements_; }
  // REQUIRES: kObject.
  const std::map<std::string, Type>& attributes() const { return attributes_; }
  bool IsOptional(const std::string& attribute) const;

  // cty's FriendlyName: "string", "list of number", "map of string", "tuple", "object",
  // "dynamic" for any.
  std::string FriendlyName() const;

  friend bool operator==(const Type& a, const Type& b);

 private:
  explicit Type(Kind kind) : kind_(kind) {}

  Kind kind_ = Kind::kAny;
  std::vector<Type> elements_;
  std::map<std::string, Type> attributes_;
  std::vector<std::string> optional_;
};

// Converts `value` to `type` with cty's conversion rules: number and bool to string, strings
// that spell a number or "true"/"false" to number and bool, sequences to list/set/tuple and
// mappings to map/object element by element; null converts to every type. Errors are
// InvalidArgument with cty's wording ("a number is required", "element 1: string required",
// `attribute "x" is required`).
Result<Value> Convert(const Value& value, const Type& type);

// The value as a string for templates and string parameters: strings as they are, numbers
// formatted, bools "true"/"false". Errors for null and collections.
Result<std::string> ToString(const Value& value);

// JSON encoding as cty's jsonencode: objects with sorted keys, no spaces, HTML-safe escapes
// (<, >, & as \u003c ...) like Go's encoding/json.
std::string JsonEncode(const Value& value);
// The same, giving up (nullopt) once the output passes `max_bytes`.
std::optional<std::string> JsonEncode(const Value& value, size_t max_bytes);
// JSON decoding to cty values: objects become objects, arrays tuples. Depth and size limited.
Result<Value> JsonDecode(std::string_view json);
// JSON decoding into a given type (cty's json.Unmarshal with a type): the document must match.
Result<Value> JsonDecodeAs(std::string_view json, const Type& type);

}  // namespace berth::frontend::bake::hcl
