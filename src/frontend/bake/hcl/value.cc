#include "frontend/bake/hcl/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::frontend::bake::hcl {

namespace {

// Decoded JSON deeper than this is refused rather than recursed into.
constexpr int kMaxJsonDepth = 200;

uint64_t AddWeight(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;
  return sum < a ? UINT64_MAX : sum;
}

uint64_t WeightOf(const Value::Elements& elements) {
  uint64_t w = 1;
  for (const Value& v : elements) {
    w = AddWeight(w, v.weight());
  }
  return w;
}

uint64_t WeightOf(const Value::Attributes& attributes) {
  uint64_t w = 1;
  for (const auto& [k, v] : attributes) {
    w = AddWeight(w, AddWeight(v.weight(), k.size() / 64));
  }
  return w;
}

int DepthOf(const Value::Elements& elements) {
  int depth = 0;
  for (const Value& v : elements) {
    depth = std::max(depth, v.depth());
  }
  return depth + 1;
}

int DepthOf(const Value::Attributes& attributes) {
  int depth = 0;
  for (const auto& [k, v] : attributes) {
    depth = std::max(depth, v.depth());
  }
  return depth + 1;
}

int KindRank(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return 0;
    case ValueKind::kBool:
      return 1;
    case ValueKind::kNumber:
      return 2;
    case ValueKind::kString:
      return 3;
    case ValueKind::kList:
    case ValueKind::kSet:
    case ValueKind::kTuple:
      return 4;
    case ValueKind::kMap:
    case ValueKind::kObject:
      return 5;
  }
  return 6;
}

}  // namespace

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.data_ = b;
  return v;
}

Value Value::Number(double n) {
  Value v;
  v.kind_ = ValueKind::kNumber;
  v.data_ = n == 0 ? 0.0 : n;  // no negative zero
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind_ = ValueKind::kString;
  v.weight_ = 1 + s.size() / 64;
  v.data_ = std::move(s);
  return v;
}

Value Value::List(Elements elements) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.depth_ = DepthOf(elements);
  v.weight_ = WeightOf(elements);
  v.data_ = std::make_shared<const Elements>(std::move(elements));
  return v;
}

Value Value::Set(Elements elements) {
  std::stable_sort(elements.begin(), elements.end(), ValueLess);
  elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
  Value v;
  v.kind_ = ValueKind::kSet;
  v.depth_ = DepthOf(elements);
  v.weight_ = WeightOf(elements);
  v.data_ = std::make_shared<const Elements>(std::move(elements));
  return v;
}

Value Value::Tuple(Elements elements) {
  Value v = List(std::move(elements));
  v.kind_ = ValueKind::kTuple;
  return v;
}

Value Value::Map(Attributes attributes) {
  Value v;
  v.kind_ = ValueKind::kMap;
  v.depth_ = DepthOf(attributes);
  v.weight_ = WeightOf(attributes);
  v.data_ = std::make_shared<const Attributes>(std::move(attributes));
  return v;
}

Value Value::Object(Attributes attributes) {
  Value v = Map(std::move(attributes));
  v.kind_ = ValueKind::kObject;
  return v;
}

const Value::Elements& Value::elements() const {
  return *std::get<std::shared_ptr<const Elements>>(data_);
}

const Value::Attributes& Value::attributes() const {
  return *std::get<std::shared_ptr<const Attributes>>(data_);
}

size_t Value::size() const {
  if (is_sequence()) {
    return elements().size();
  }
  if (is_mapping()) {
    return attributes().size();
  }
  return 0;
}

const Value* Value::Find(std::string_view name) const {
  if (!is_mapping()) {
    return nullptr;
  }
  auto it = attributes().find(name);
  return it == attributes().end() ? nullptr : &it->second;
}

std::string Value::TypeName() const {
  switch (kind_) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kNumber:
      return "number";
    case ValueKind::kString:
      return "string";
    case ValueKind::kList:
      return "list";
    case ValueKind::kSet:
      return "set";
    case ValueKind::kTuple:
      return "tuple";
    case ValueKind::kMap:
      return "map";
    case ValueKind::kObject:
      return "object";
  }
  return "?";
}

bool operator==(const Value& a, const Value& b) {
  if (KindRank(a.kind_) != KindRank(b.kind_)) {
    return false;
  }
  switch (a.kind_) {
    case ValueKind::kNull:
      return true;
    case ValueKind::kBool:
      return a.AsBool() == b.AsBool();
    case ValueKind::kNumber:
      return a.AsNumber() == b.AsNumber();
    case ValueKind::kString:
      return a.AsString() == b.AsString();
    case ValueKind::kList:
    case ValueKind::kSet:
    case ValueKind::kTuple:
      return &a.elements() == &b.elements() || a.elements() == b.elements();
    case ValueKind::kMap:
    case ValueKind::kObject:
      return &a.attributes() == &b.attributes() || a.attributes() == b.attributes();
  }
  return false;
}

bool ValueLess(const Value& a, const Value& b) {
  const int ra = KindRank(a.kind());
  const int rb = KindRank(b.kind());
  if (ra != rb) {
    return ra < rb;
  }
  switch (a.kind()) {
    case ValueKind::kNull:
      return false;
    case ValueKind::kBool:
      return !a.AsBool() && b.AsBool();
    case ValueKind::kNumber:
      return a.AsNumber() < b.AsNumber();
    case ValueKind::kString:
      return a.AsString() < b.AsString();
    case ValueKind::kList:
    case ValueKind::kSet:
    case ValueKind::kTuple:
      return std::lexicographical_compare(a.elements().begin(), a.elements().end(),
                                          b.elements().begin(), b.elements().end(), ValueLess);
    case ValueKind::kMap:
    case ValueKind::kObject: {
      auto ia = a.attributes().begin();
      auto ib = b.attributes().begin();
      for (; ia != a.attributes().end() && ib != b.attributes().end(); ++ia, ++ib) {
        if (ia->first != ib->first) {
          return ia->first < ib->first;
        }
        if (ValueLess(ia->second, ib->second)) {
          return true;
        }
        if (ValueLess(ib->second, ia->second)) {
          return false;
        }
      }
      return ia == a.attributes().end() && ib != b.attributes().end();
    }
  }
  return false;
}

std::string FormatNumber(double n) {
  if (std::isnan(n)) {
    return "NaN";
  }
  if (std::isinf(n)) {
    return n > 0 ? "+Inf" : "-Inf";
  }
  if (n == 0) {
    return "0";
  }
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n, std::chars_format::fixed);
  if (ec != std::errc()) {
    return "NaN";
  }
  return {buf, end};
}

std::optional<double> ParseNumber(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    ++i;
  }
  const size_t digits_start = i;
  size_t digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
    ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
      ++digits;
    }
  }
  if (digits == 0) {
    return std::nullopt;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      ++i;
    }
    size_t exp_digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) {
      return std::nullopt;
    }
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  (void)digits_start;
  std::string_view body = text;
  if (!body.empty() && body.front() == '+') {
    body.remove_prefix(1);
  }
  double out = 0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), out);
  if (ec != std::errc() || ptr != body.data() + body.size() || !std::isfinite(out)) {
    return std::nullopt;
  }
  return out;
}

std::string ValueDebugString(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return value.AsBool() ? "true" : "false";
    case ValueKind::kNumber:
      return FormatNumber(value.AsNumber());
    case ValueKind::kString:
      return QuoteString(value.AsString());
    case ValueKind::kList:
    case ValueKind::kSet:
    case ValueKind::kTuple: {
      std::string out = "[";
      bool first = true;
      for (const Value& v : value.elements()) {
        out += first ? "" : ", ";
        first = false;
        out += ValueDebugString(v);
      }
      return out + "]";
    }
    case ValueKind::kMap:
    case ValueKind::kObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : value.attributes()) {
        out += first ? "" : ", ";
        first = false;
        out += k + " = " + ValueDebugString(v);
      }
      return out + "}";
    }
  }
  return "?";
}

Type Type::List(Type element) {
  Type t(Kind::kList);
  t.elements_.push_back(std::move(element));
  return t;
}

Type Type::Set(Type element) {
  Type t(Kind::kSet);
  t.elements_.push_back(std::move(element));
  return t;
}

Type Type::Map(Type element) {
  Type t(Kind::kMap);
  t.elements_.push_back(std::move(element));
  return t;
}

Type Type::Tuple(std::vector<Type> elements) {
  Type t(Kind::kTuple);
  t.elements_ = std::move(elements);
  return t;
}

Type Type::Object(std::map<std::string, Type> attributes, std::vector<std::string> optional) {
  Type t(Kind::kObject);
  t.attributes_ = std::move(attributes);
  t.optional_ = std::move(optional);
  return t;
}

bool Type::IsOptional(const std::string& attribute) const {
  return std::find(optional_.begin(), optional_.end(), attribute) != optional_.end();
}

std::string Type::FriendlyName() const {
  switch (kind_) {
    case Kind::kAny:
      return "dynamic";
    case Kind::kString:
      return "string";
    case Kind::kNumber:
      return "number";
    case Kind::kBool:
      return "bool";
    case Kind::kList:
      return "list of " + element().FriendlyName();
    case Kind::kSet:
      return "set of " + element().FriendlyName();
    case Kind::kMap:
      return "map of " + element().FriendlyName();
    case Kind::kTuple:
      return "tuple";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

bool operator==(const Type& a, const Type& b) {
  return a.kind_ == b.kind_ && a.elements_ == b.elements_ && a.attributes_ == b.attributes_ &&
         a.optional_ == b.optional_;
}

namespace {

Error ConvError(const std::string& path, const std::string& message) {
  return Error::InvalidArgument(path.empty() ? message : path + ": " + message);
}

std::string ElementPath(const std::string& path, size_t index) {
  return (path.empty() ? "element " : path + ".element ") + std::to_string(index);
}

std::string AttributePath(const std::string& path, const std::string& name) {
  return (path.empty() ? "attribute " : path + ".attribute ") + QuoteString(name);
}

Result<Value> ConvertAt(const Value& value, const Type& type, const std::string& path) {
  if (value.is_null() || type.kind() == Type::Kind::kAny) {
    return value;
  }
  switch (type.kind()) {
    case Type::Kind::kAny:
      return value;
    case Type::Kind::kString:
      if (value.is_string()) {
        return value;
      }
      if (value.is_number()) {
        return Value::String(FormatNumber(value.AsNumber()));
      }
      if (value.is_bool()) {
        return Value::String(value.AsBool() ? "true" : "false");
      }
      return ConvError(path, "string required");
    case Type::Kind::kNumber:
      if (value.is_number()) {
        return value;
      }
      if (value.is_string()) {
        std::optional<double> n = ParseNumber(value.AsString());
        if (!n) {
          return ConvError(path, "a number is required");
        }
        return Value::Number(*n);
      }
      return ConvError(path, "number required");
    case Type::Kind::kBool:
      if (value.is_bool()) {
        return value;
      }
      if (value.is_string()) {
        const std::string& s = value.AsString();
        if (s == "true" || s == "1") {
          return Value::Bool(true);
        }
        if (s == "false" || s == "0") {
          return Value::Bool(false);
        }
        return ConvError(path, "a bool is required");
      }
      return ConvError(path, "bool required");
    case Type::Kind::kList:
    case Type::Kind::kSet: {
      if (!value.is_sequence()) {
        return ConvError(path, type.FriendlyName() + " required");
      }
      Value::Elements out;
      out.reserve(value.size());
      size_t i = 0;
      for (const Value& e : value.elements()) {
        out.push_back(BERTH_TRY(ConvertAt(e, type.element(), ElementPath(path, i))));
        ++i;
      }
      return type.kind() == Type::Kind::kList ? Value::List(std::move(out))
                                              : Value::Set(std::move(out));
    }
    case Type::Kind::kMap: {
      if (!value.is_mapping()) {
        return ConvError(path, type.FriendlyName() + " required");
      }
      Value::Attributes out;
      for (const auto& [k, v] : value.attributes()) {
        out.emplace(k, BERTH_TRY(ConvertAt(v, type.element(), AttributePath(path, k))));
      }
      return Value::Map(std::move(out));
    }
    case Type::Kind::kTuple: {
      if (!value.is_sequence()) {
        return ConvError(path, "tuple required");
      }
      const auto& want = type.tuple_elements();
      if (value.size() != want.size()) {
        return ConvError(path, "tuple required with " + std::to_string(want.size()) +
                                   " elements, got " + std::to_string(value.size()));
      }
      Value::Elements out;
      for (size_t i = 0; i < want.size(); ++i) {
        out.push_back(BERTH_TRY(ConvertAt(value.elements()[i], want[i], ElementPath(path, i))));
      }
      return Value::Tuple(std::move(out));
    }
    case Type::Kind::kObject: {
      if (!value.is_mapping()) {
        return ConvError(path, "object required");
      }
      Value::Attributes out;
      for (const auto& [name, attr_type] : type.attributes()) {
        const Value* v = value.Find(name);
        if (v == nullptr) {
          if (type.IsOptional(name)) {
            out.emplace(name, Value::Null());
            continue;
          }
          return ConvError(path, "attribute " + QuoteString(name) + " is required");
        }
        out.emplace(name, BERTH_TRY(ConvertAt(*v, attr_type, AttributePath(path, name))));
      }
      return Value::Object(std::move(out));
    }
  }
  return value;
}

}  // namespace

Result<Value> Convert(const Value& value, const Type& type) {
  return ConvertAt(value, type, "");
}

Result<std::string> ToString(const Value& value) {
  if (value.is_null()) {
    return Error::InvalidArgument("a null value cannot be used as a string");
  }
  Value v = BERTH_TRY(Convert(value, Type::String()));
  return v.AsString();
}

namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '<':
      case '>':
      case '&':
        *out += "\\u00";
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
        break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                    static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
          // U+2028 and U+2029, escaped by Go's encoder.
          *out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Appends `value`; returns false once `out` is longer than `limit`.
bool AppendJson(std::string* out, const Value& value, size_t limit) {
  if (out->size() > limit) {
    return false;
  }
  switch (value.kind()) {
    case ValueKind::kNull:
      *out += "null";
      return true;
    case ValueKind::kBool:
      *out += value.AsBool() ? "true" : "false";
      return true;
    case ValueKind::kNumber:
      *out += FormatNumber(value.AsNumber());
      return true;
    case ValueKind::kString:
      AppendJsonString(out, value.AsString());
      return out->size() <= limit;
    case ValueKind::kList:
    case ValueKind::kSet:
    case ValueKind::kTuple: {
      out->push_back('[');
      bool first = true;
      for (const Value& v : value.elements()) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        if (!AppendJson(out, v, limit)) {
          return false;
        }
      }
      out->push_back(']');
      return true;
    }
    case ValueKind::kMap:
    case ValueKind::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : value.attributes()) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        AppendJsonString(out, k);
        out->push_back(':');
        if (!AppendJson(out, v, limit)) {
          return false;
        }
      }
      out->push_back('}');
      return true;
    }
  }
  return true;
}

Result<Value> FromJson(const nlohmann::json& j, int depth) {
  if (depth > kMaxJsonDepth) {
    return Error::InvalidArgument("JSON nesting is too deep");
  }
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::Null();
    case nlohmann::json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::Number(static_cast<double>(j.get<int64_t>()));
    case nlohmann::json::value_t::number_unsigned:
      return Value::Number(static_cast<double>(j.get<uint64_t>()));
    case nlohmann::json::value_t::number_float:
      return Value::Number(j.get<double>());
    case nlohmann::json::value_t::string:
      return Value::String(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      Value::Elements out;
      for (const auto& e : j) {
        out.push_back(BERTH_TRY(FromJson(e, depth + 1)));
      }
      return Value::Tuple(std::move(out));
    }
    case nlohmann::json::value_t::object: {
      Value::Attributes out;
      for (const auto& [k, v] : j.items()) {
        out.insert_or_assign(k, BERTH_TRY(FromJson(v, depth + 1)));
      }
      return Value::Object(std::move(out));
    }
    default:
      return Error::InvalidArgument("unsupported JSON value");
  }
}

Result<nlohmann::json> ParseJsonText(std::string_view json) {
  try {
    // A depth-limiting callback keeps nlohmann's recursion (and ours) bounded.
    int depth = 0;
    bool too_deep = false;
    nlohmann::json::parser_callback_t cb = [&](int d, nlohmann::json::parse_event_t event,
                                               nlohmann::json&) {
      if (event == nlohmann::json::parse_event_t::object_start ||
          event == nlohmann::json::parse_event_t::array_start) {
        depth = d;
        if (d > kMaxJsonDepth) {
          too_deep = true;
        }
      }
      return !too_deep;
    };
    nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), cb);
    if (too_deep) {
      return Error::InvalidArgument("JSON nesting is too deep");
    }
    (void)depth;
    return j;
  } catch (const std::exception& e) {
    return Error::InvalidArgument(e.what());
  }
}

// cty's json.Unmarshal: walks the document along the wanted type.
Result<Value> FromJsonAs(const nlohmann::json& j, const Type& type, const std::string& path,
                         int depth) {
  if (depth > kMaxJsonDepth) {
    return Error::InvalidArgument("JSON nesting is too deep");
  }
  if (j.is_null()) {
    return Value::Null();
  }
  auto fail = [&](const std::string& message) {
    return ConvError(path, message);
  };
  switch (type.kind()) {
    case Type::Kind::kAny:
      return FromJson(j, depth);
    case Type::Kind::kString:
      if (j.is_string()) {
        return Value::String(j.get<std::string>());
      }
      if (j.is_number()) {
        return Value::String(j.dump());
      }
      if (j.is_boolean()) {
        return Value::String(j.get<bool>() ? "true" : "false");
      }
      return fail("string is required");
    case Type::Kind::kNumber:
      if (j.is_number()) {
        return FromJson(j, depth);
      }
      if (j.is_string()) {
        std::optional<double> n = ParseNumber(j.get<std::string>());
        if (n) {
          return Value::Number(*n);
        }
      }
      return fail("number is required");
    case Type::Kind::kBool:
      if (j.is_boolean()) {
        return Value::Bool(j.get<bool>());
      }
      if (j.is_string()) {
        return ConvertAt(Value::String(j.get<std::string>()), type, path);
      }
      return fail("bool is required");
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple: {
      if (!j.is_array()) {
        return fail("array is required");
      }
      Value::Elements out;
      size_t i = 0;
      if (type.kind() == Type::Kind::kTuple && j.size() != type.tuple_elements().size()) {
        return fail("wrong number of elements in tuple");
      }
      for (const auto& e : j) {
        const Type& et =
            type.kind() == Type::Kind::kTuple ? type.tuple_elements()[i] : type.element();
        out.push_back(BERTH_TRY(FromJsonAs(e, et, ElementPath(path, i), depth + 1)));
        ++i;
      }
      if (type.kind() == Type::Kind::kList) {
        return Value::List(std::move(out));
      }
      if (type.kind() == Type::Kind::kSet) {
        return Value::Set(std::move(out));
      }
      return Value::Tuple(std::move(out));
    }
    case Type::Kind::kMap: {
      if (!j.is_object()) {
        return fail("object is required");
      }
      Value::Attributes out;
      for (const auto& [k, v] : j.items()) {
        out.insert_or_assign(
            k, BERTH_TRY(FromJsonAs(v, type.element(), AttributePath(path, k), depth + 1)));
      }
      return Value::Map(std::move(out));
    }
    case Type::Kind::kObject: {
      if (!j.is_object()) {
        return fail("object is required");
      }
      Value::Attributes out;
      for (const auto& [k, v] : j.items()) {
        auto it = type.attributes().find(k);
        if (it == type.attributes().end()) {
          return fail("unsupported attribute " + QuoteString(k));
        }
        out.insert_or_assign(
            k, BERTH_TRY(FromJsonAs(v, it->second, AttributePath(path, k), depth + 1)));
      }
      for (const auto& [name, t] : type.attributes()) {
        if (!out.contains(name)) {
          if (!type.IsOptional(name)) {
            return fail("missing attribute " + QuoteString(name));
          }
          out.emplace(name, Value::Null());
        }
      }
      return Value::Object(std::move(out));
    }
  }
  return fail("unsupported type");
}

}  // namespace

std::string JsonEncode(const Value& value) {
  std::string out;
  AppendJson(&out, value, std::string::npos);
  return out;
}

std::optional<std::string> JsonEncode(const Value& value, size_t max_bytes) {
  std::string out;
  if (!AppendJson(&out, value, max_bytes)) {
    return std::nullopt;
  }
  return out;
}

Result<Value> JsonDecode(std::string_view json) {
  nlohmann::json j = BERTH_TRY(ParseJsonText(json));
  return FromJson(j, 0);
}

Result<Value> JsonDecodeAs(std::string_view json, const Type& type) {
  nlohmann::json j = BERTH_TRY(ParseJsonText(json));
  return FromJsonAs(j, type, "", 0);
}

}  // namespace berth::frontend::bake::hcl
