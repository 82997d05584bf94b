// The bake standard library: the functions buildx registers in bake/hclparser/stdlib.go (go-cty's
// stdlib, hashicorp/go-cty-funcs and buildx's own), with cty's argument conversions and error
// texts where bake files can observe them. This file has the string, collection, numeric,
// encoding and miscellaneous functions; stdlib_ext.cc the hashing, regex, time and network ones.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "base/gotext.h"
#include "base/strings.h"
#include "frontend/bake/hcl/csv.h"
#include "frontend/bake/hcl/stdlib_internal.h"

namespace berth::frontend::bake::hcl {

namespace internal {

void Define(Scope* scope, const std::string& name, int min_args, int max_args, Impl impl) {
  scope->SetFunction(name, Function{std::move(impl), min_args, max_args});
}

namespace {

Error ArgError(std::string_view name, std::string_view message) {
  return Error::InvalidArgument("invalid value for \"" + std::string(name) +
                                "\" parameter: " + std::string(message));
}

}  // namespace

Result<std::string> StringArg(const Args& args, size_t i, std::string_view name) {
  if (args[i].is_null()) {
    return ArgError(name, "argument must not be null");
  }
  Result<Value> v = Convert(args[i], Type::String());
  if (!v.ok()) {
    return ArgError(name, v.error().message());
  }
  return v->AsString();
}

Result<double> NumberArg(const Args& args, size_t i, std::string_view name) {
  if (args[i].is_null()) {
    return ArgError(name, "argument must not be null");
  }
  Result<Value> v = Convert(args[i], Type::Number());
  if (!v.ok()) {
    return ArgError(name, v.error().message());
  }
  return v->AsNumber();
}

Result<int64_t> IntArg(const Args& args, size_t i, std::string_view name) {
  const double n = BERTH_TRY(NumberArg(args, i, name));
  if (n != std::floor(n) || std::fabs(n) > 9.0e15) {
    return ArgError(name, "value must be a whole number");
  }
  return static_cast<int64_t>(n);
}

Result<bool> BoolArg(const Args& args, size_t i, std::string_view name) {
  if (args[i].is_null()) {
    return ArgError(name, "argument must not be null");
  }
  Result<Value> v = Convert(args[i], Type::Bool());
  if (!v.ok()) {
    return ArgError(name, v.error().message());
  }
  return v->AsBool();
}

Result<Value> SequenceArg(const Args& args, size_t i, std::string_view name) {
  if (args[i].is_null()) {
    return ArgError(name, "argument must not be null");
  }
  if (!args[i].is_sequence()) {
    return ArgError(name, "list, set or tuple required");
  }
  return args[i];
}

Result<Value> MappingArg(const Args& args, size_t i, std::string_view name) {
  if (args[i].is_null()) {
    return ArgError(name, "argument must not be null");
  }
  if (!args[i].is_mapping()) {
    return ArgError(name, "map or object required");
  }
  return args[i];
}

std::vector<size_t> RuneOffsets(std::string_view s) {
  std::vector<size_t> offsets;
  size_t i = 0;
  while (i < s.size()) {
    offsets.push_back(i);
    i += gotext::DecodeRune(s, i).width;
  }
  offsets.push_back(s.size());
  return offsets;
}

namespace {

Value Str(std::string s) {
  return Value::String(std::move(s));
}

Value Num(double n) {
  return Value::Number(n);
}

std::string AsciiUpper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return s;
}

bool IsWordChar(char32_t r) {
  return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' ||
         (r >= 0x80 && !gotext::IsSpace(r));
}

// Go's strings.Trim with a cutset: runes of `cutset` removed from the chosen ends.
std::string TrimCutset(std::string_view s, std::string_view cutset, bool left, bool right) {
  std::set<char32_t> cut;
  for (size_t i = 0; i < cutset.size();) {
    auto r = gotext::DecodeRune(cutset, i);
    cut.insert(r.rune);
    i += r.width;
  }
  std::vector<size_t> offs = RuneOffsets(s);
  size_t b = 0;
  size_t e = offs.size() - 1;
  while (left && b < e && cut.contains(gotext::DecodeRune(s, offs[b]).rune)) {
    ++b;
  }
  while (right && e > b && cut.contains(gotext::DecodeRune(s, offs[e - 1]).rune)) {
    --e;
  }
  return std::string(s.substr(offs[b], offs[e] - offs[b]));
}

Result<std::string> Replace(CallContext& ctx, std::string_view s, std::string_view from,
                            std::string_view to) {
  std::string out;
  if (from.empty()) {
    // Go inserts the replacement around every rune.
    std::vector<size_t> offs = RuneOffsets(s);
    BERTH_TRY(ctx.evaluator.CheckStringSize(s.size() + to.size() * offs.size()));
    for (size_t i = 0; i + 1 < offs.size(); ++i) {
      out += to;
      out += s.substr(offs[i], offs[i + 1] - offs[i]);
    }
    out += to;
    return out;
  }
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) {
      break;
    }
    out += s.substr(pos, hit - pos);
    out += to;
    pos = hit + from.size();
    BERTH_TRY(ctx.evaluator.CheckStringSize(out.size()));
  }
  out += s.substr(pos);
  return out;
}

// ---- format ----

// A value formatted with %v may take up to this many bytes.
constexpr size_t kMaxFormatBytes = 16 << 20;

struct FormatSpec {
  bool minus = false, plus = false, sharp = false, zero = false, space = false;
  int width = -1;
  int precision = -1;
  char verb = 0;
};

std::string Pad(std::string s, const FormatSpec& spec, bool numeric) {
  const size_t width = spec.width < 0 ? 0 : static_cast<size_t>(spec.width);
  const size_t len = RuneOffsets(s).size() - 1;
  if (len >= width) {
    return s;
  }
  const size_t n = width - len;
  if (spec.minus) {
    return s + std::string(n, ' ');
  }
  if (spec.zero && numeric) {
    size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) ? 1 : 0;
    return s.substr(0, sign) + std::string(n, '0') + s.substr(sign);
  }
  return std::string(n, ' ') + s;
}

Result<std::string> FormatOne(const FormatSpec& spec, const Value& arg) {
  auto number = [&]() -> Result<double> {
    Result<Value> n = Convert(arg, Type::Number());
    if (!n.ok() || n->is_null()) {
      return Error::InvalidArgument("unsupported value for \"%" + std::string(1, spec.verb) +
                                    "\": number required");
    }
    return n->AsNumber();
  };
  auto sign = [&](double n, std::string digits) {
    if (n < 0) {
      return "-" + digits;
    }
    if (spec.plus) {
      return "+" + digits;
    }
    if (spec.space) {
      return " " + digits;
    }
    return digits;
  };
  switch (spec.verb) {
    case 'v': {
      if (arg.is_null() && !spec.sharp) {
        return Pad("null", spec, false);
      }
      if (arg.is_primitive() && !spec.sharp) {
        return Pad(BERTH_TRY(ToString(arg)), spec, false);
      }
      std::optional<std::string> json = JsonEncode(arg, kMaxFormatBytes);
      if (!json) {
        return Error::InvalidArgument("the value is too large to format");
      }
      return Pad(*json, spec, false);
    }
    case 't': {
      Result<Value> b = Convert(arg, Type::Bool());
      if (!b.ok() || b->is_null()) {
        return Error::InvalidArgument("unsupported value for \"%t\": bool required");
      }
      return Pad(b->AsBool() ? "true" : "false", spec, false);
    }
    case 'd':
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      const double n = BERTH_TRY(number());
      if (n != std::floor(n) || std::fabs(n) > 9.2e18) {
        if (spec.verb == 'x' || spec.verb == 'X') {
          break;  // Go formats non-integers with %x in hexadecimal float notation; not supported.
        }
        return Error::InvalidArgument("unsupported value for \"%" + std::string(1, spec.verb) +
                                      "\": an integer is required");
      }
      auto u = static_cast<uint64_t>(std::fabs(n));
      const int base = spec.verb == 'd' ? 10 : spec.verb == 'b' ? 2 : spec.verb == 'o' ? 8 : 16;
      const char* digits = spec.verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      std::string s;
      do {
        s.insert(s.begin(), digits[u % static_cast<uint64_t>(base)]);
        u /= static_cast<uint64_t>(base);
      } while (u != 0);
      if (spec.precision >= 0 && s.size() < static_cast<size_t>(spec.precision)) {
        s.insert(0, static_cast<size_t>(spec.precision) - s.size(), '0');
      }
      if (spec.sharp) {
        s.insert(0, spec.verb == 'b'   ? "0b"
                    : spec.verb == 'o' ? "0"
                    : spec.verb == 'x' ? "0x"
                    : spec.verb == 'X' ? "0X"
                                       : "");
      }
      return Pad(sign(n, s), spec, true);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'g':
    case 'G': {
      const double n = BERTH_TRY(number());
      std::string fmt = "%";
      if (spec.sharp) {
        fmt += '#';
      }
      if (spec.precision >= 0) {
        fmt += "." + std::to_string(spec.precision);
      } else if (spec.verb == 'g' || spec.verb == 'G') {
        // Go's %g uses the shortest representation; FormatNumber gives it for plain values.
        std::string s = FormatNumber(std::fabs(n));
        return Pad(sign(n, s), spec, true);
      }
      fmt += spec.verb;
      char buf[512];
      const int len = std::snprintf(buf, sizeof(buf), fmt.c_str(), std::fabs(n));
      if (len < 0 || static_cast<size_t>(len) >= sizeof(buf)) {
        return Error::InvalidArgument("formatted number is too long");
      }
      return Pad(sign(n, std::string(buf, static_cast<size_t>(len))), spec, true);
    }
    case 's': {
      std::string s = BERTH_TRY(ToString(arg));
      if (spec.precision >= 0) {
        std::vector<size_t> offs = RuneOffsets(s);
        if (static_cast<size_t>(spec.precision) + 1 < offs.size()) {
          s.resize(offs[static_cast<size_t>(spec.precision)]);
        }
      }
      return Pad(s, spec, false);
    }
    case 'q': {
      std::string s = BERTH_TRY(ToString(arg));
      return Pad(JsonEncode(Value::String(s)), spec, false);
    }
    default:
      break;
  }
  return Error::InvalidArgument("unsupported format verb %" + std::string(1, spec.verb));
}

Result<std::string> Format(CallContext& ctx, std::string_view fmt, const Args& args, size_t first) {
  std::string out;
  size_t next_arg = first;
  size_t i = 0;
  while (i < fmt.size()) {
    const char c = fmt[i];
    if (c != '%') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    if (i < fmt.size() && fmt[i] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    FormatSpec spec;
    for (; i < fmt.size(); ++i) {
      const char f = fmt[i];
      if (f == '-') {
        spec.minus = true;
      } else if (f == '+') {
        spec.plus = true;
      } else if (f == '#') {
        spec.sharp = true;
      } else if (f == '0') {
        spec.zero = true;
      } else if (f == ' ') {
        spec.space = true;
      } else {
        break;
      }
    }
    if (i < fmt.size() && fmt[i] == '[') {
      size_t close = fmt.find(']', i);
      if (close == std::string_view::npos) {
        return Error::InvalidArgument("unclosed argument index");
      }
      const std::string idx(fmt.substr(i + 1, close - i - 1));
      std::optional<double> n = ParseNumber(idx);
      if (!n || *n < 1 || *n != std::floor(*n) || *n > 1e6) {
        return Error::InvalidArgument("invalid argument index " + QuoteString(idx));
      }
      next_arg = first + static_cast<size_t>(*n) - 1;
      i = close + 1;
    }
    auto read_int = [&](int* out_n) -> Result<> {
      int n = 0;
      bool any = false;
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        n = n * 10 + (fmt[i] - '0');
        if (n > 1000000) {
          return Error::InvalidArgument("format width or precision is too large");
        }
        any = true;
        ++i;
      }
      if (any) {
        *out_n = n;
      }
      return {};
    };
    BERTH_TRY(read_int(&spec.width));
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      spec.precision = 0;
      BERTH_TRY(read_int(&spec.precision));
    }
    if (i >= fmt.size()) {
      return Error::InvalidArgument("unterminated format verb at end of string");
    }
    spec.verb = fmt[i];
    ++i;
    if (next_arg >= args.size()) {
      return Error::InvalidArgument("not enough arguments for \"%" + std::string(1, spec.verb) +
                                    "\" at " + std::to_string(i - 1) + ": need index " +
                                    std::to_string(next_arg - first + 1) + " but have " +
                                    std::to_string(args.size() - first) + " total");
    }
    out += BERTH_TRY(FormatOne(spec, args[next_arg]));
    ++next_arg;
    BERTH_TRY(ctx.evaluator.CheckStringSize(out.size()));
  }
  return out;
}

// ---- string functions ----

void DefineStrings(Scope* s) {
  Define(s, "upper", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Str(AsciiUpper(BERTH_TRY(StringArg(a, 0, "str"))));
  });
  Define(s, "lower", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Str(gotext::ToLower(BERTH_TRY(StringArg(a, 0, "str"))));
  });
  Define(s, "title", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::string out;
    bool prev_word = false;
    for (size_t i = 0; i < in.size();) {
      auto r = gotext::DecodeRune(in, i);
      const bool word = IsWordChar(r.rune);
      if (word && !prev_word && r.rune >= 'a' && r.rune <= 'z') {
        out.push_back(static_cast<char>(r.rune - 'a' + 'A'));
      } else {
        out.append(in, i, r.width);
      }
      prev_word = word;
      i += r.width;
    }
    return Str(out);
  });
  Define(s, "strlen", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    return Num(static_cast<double>(RuneOffsets(in).size() - 1));
  });
  Define(s, "byteslen", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Num(static_cast<double>(BERTH_TRY(StringArg(a, 0, "buf")).size()));
  });
  Define(s, "bytesslice", 3, 3, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "buf"));
    const int64_t off = BERTH_TRY(IntArg(a, 1, "offset"));
    const int64_t len = BERTH_TRY(IntArg(a, 2, "length"));
    if (off < 0 || len < 0 || static_cast<size_t>(off) > in.size() ||
        static_cast<size_t>(len) > in.size() - static_cast<size_t>(off)) {
      return Error::InvalidArgument("offset and length are out of range");
    }
    return Str(in.substr(static_cast<size_t>(off), static_cast<size_t>(len)));
  });
  Define(s, "substr", 3, 3, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    int64_t off = BERTH_TRY(IntArg(a, 1, "offset"));
    int64_t len = BERTH_TRY(IntArg(a, 2, "length"));
    std::vector<size_t> offs = RuneOffsets(in);
    const auto n = static_cast<int64_t>(offs.size() - 1);
    if (off < 0) {
      off += n;
      if (off < 0) {
        off = 0;
      }
    }
    if (off > n) {
      return Str("");
    }
    if (len < 0 || off + len > n) {
      len = n - off;
    }
    const size_t b = offs[static_cast<size_t>(off)];
    const size_t e = offs[static_cast<size_t>(off + len)];
    return Str(in.substr(b, e - b));
  });
  Define(s, "trim", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    return Str(TrimCutset(BERTH_TRY(StringArg(a, 0, "str")), BERTH_TRY(StringArg(a, 1, "cutset")),
                          true, true));
  });
  Define(s, "trimprefix", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::string p = BERTH_TRY(StringArg(a, 1, "prefix"));
    return Str(in.starts_with(p) ? in.substr(p.size()) : in);
  });
  Define(s, "trimsuffix", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::string p = BERTH_TRY(StringArg(a, 1, "suffix"));
    return Str(in.ends_with(p) ? in.substr(0, in.size() - p.size()) : in);
  });
  Define(s, "trimspace", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::vector<size_t> offs = RuneOffsets(in);
    size_t b = 0;
    size_t e = offs.size() - 1;
    while (b < e && gotext::IsSpace(gotext::DecodeRune(in, offs[b]).rune)) {
      ++b;
    }
    while (e > b && gotext::IsSpace(gotext::DecodeRune(in, offs[e - 1]).rune)) {
      --e;
    }
    return Str(in.substr(offs[b], offs[e] - offs[b]));
  });
  Define(s, "chomp", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    while (!in.empty() && (in.back() == '\n' || in.back() == '\r')) {
      in.pop_back();
    }
    return Str(in);
  });
  Define(s, "indent", 2, 2, [](CallContext& ctx, Args& a) -> Result<Value> {
    const int64_t n = BERTH_TRY(IntArg(a, 0, "spaces"));
    std::string in = BERTH_TRY(StringArg(a, 1, "str"));
    if (n < 0 || n > 1 << 20) {
      return Error::InvalidArgument("the number of spaces is out of range");
    }
    const std::string pad(static_cast<size_t>(n), ' ');
    std::string out;
    for (char c : in) {
      out.push_back(c);
      if (c == '\n') {
        out += pad;
        BERTH_TRY(ctx.evaluator.CheckStringSize(out.size()));
      }
    }
    return Str(out);
  });
  Define(s, "split", 2, 2, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string sep = BERTH_TRY(StringArg(a, 0, "separator"));
    std::string in = BERTH_TRY(StringArg(a, 1, "str"));
    Value::Elements out;
    if (sep.empty()) {
      std::vector<size_t> offs = RuneOffsets(in);
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(offs.size() - 1));
      for (size_t i = 0; i + 1 < offs.size(); ++i) {
        out.push_back(Str(in.substr(offs[i], offs[i + 1] - offs[i])));
      }
    } else {
      size_t pos = 0;
      while (true) {
        size_t hit = in.find(sep, pos);
        out.push_back(
            Str(in.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos)));
        if (hit == std::string::npos) {
          break;
        }
        pos = hit + sep.size();
        BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
      }
    }
    BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
    return Value::List(std::move(out));
  });
  Define(s, "join", 2, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string sep = BERTH_TRY(StringArg(a, 0, "separator"));
    std::string out;
    bool first = true;
    for (size_t i = 1; i < a.size(); ++i) {
      Value list = BERTH_TRY(SequenceArg(a, i, "lists"));
      for (const Value& e : list.elements()) {
        if (e.is_null()) {
          return Error::InvalidArgument("element " + std::to_string(i - 1) +
                                        " is null; cannot concatenate null values");
        }
        Result<std::string> str = ToString(e);
        if (!str.ok()) {
          return Error::InvalidArgument("invalid value for \"lists\" parameter: " +
                                        str.error().message());
        }
        if (!first) {
          out += sep;
        }
        first = false;
        out += *str;
        BERTH_TRY(ctx.evaluator.CheckStringSize(out.size()));
      }
    }
    return Str(out);
  });
  Define(s, "replace", 3, 3, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::string from = BERTH_TRY(StringArg(a, 1, "substr"));
    std::string to = BERTH_TRY(StringArg(a, 2, "replace"));
    return Str(BERTH_TRY(Replace(ctx, in, from, to)));
  });
  Define(s, "format", 1, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string fmt = BERTH_TRY(StringArg(a, 0, "format"));
    return Str(BERTH_TRY(Format(ctx, fmt, a, 1)));
  });
  Define(s, "formatlist", 1, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string fmt = BERTH_TRY(StringArg(a, 0, "format"));
    // Lists iterate in step; other arguments repeat.
    size_t n = 0;
    bool any_list = false;
    for (size_t i = 1; i < a.size(); ++i) {
      if (a[i].is_sequence()) {
        if (any_list && a[i].size() != n) {
          return Error::InvalidArgument(
              "argument " + std::to_string(i) + " has length " + std::to_string(a[i].size()) +
              ", which is inconsistent with argument 1 of length " + std::to_string(n));
        }
        n = a[i].size();
        any_list = true;
      }
    }
    if (!any_list) {
      n = 1;
    }
    Value::Elements out;
    for (size_t k = 0; k < n; ++k) {
      Args row;
      row.push_back(a[0]);
      for (size_t i = 1; i < a.size(); ++i) {
        row.push_back(a[i].is_sequence() ? a[i].elements()[k] : a[i]);
      }
      out.push_back(Str(BERTH_TRY(Format(ctx, fmt, row, 1))));
      BERTH_TRY(ctx.evaluator.Charge(1));
    }
    return Value::List(std::move(out));
  });
  Define(s, "sanitize", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "name"));
    std::string out;
    for (size_t i = 0; i < in.size();) {
      auto r = gotext::DecodeRune(in, i);
      const char32_t c = r.rune;
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
      out.push_back(ok ? static_cast<char>(c) : '_');
      i += r.width;
    }
    return Str(out);
  });
}

// ---- collections ----

Result<Value::Elements> Elements(const Args& a, size_t i, std::string_view name) {
  Value v = BERTH_TRY(SequenceArg(a, i, name));
  return v.elements();
}

Value SameKindSequence(const Value& like, Value::Elements elements) {
  switch (like.kind()) {
    case ValueKind::kList:
      return Value::List(std::move(elements));
    case ValueKind::kSet:
      return Value::Set(std::move(elements));
    default:
      return Value::Tuple(std::move(elements));
  }
}

Result<> FlattenInto(const Value& v, Value::Elements* out, CallContext& ctx) {
  for (const Value& e : v.elements()) {
    if (e.is_sequence()) {
      BERTH_TRY(FlattenInto(e, out, ctx));
    } else {
      out->push_back(e);
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(out->size()));
    }
  }
  return {};
}

Result<Value> SetOp(Args& a, const std::string& op) {
  std::vector<Value::Elements> sets;
  for (size_t i = 0; i < a.size(); ++i) {
    Value v = BERTH_TRY(SequenceArg(a, i, "sets"));
    Value::Elements e = v.elements();
    std::sort(e.begin(), e.end(), ValueLess);
    e.erase(std::unique(e.begin(), e.end()), e.end());
    sets.push_back(std::move(e));
  }
  Value::Elements acc = sets[0];
  for (size_t i = 1; i < sets.size(); ++i) {
    Value::Elements next;
    if (op == "union") {
      std::set_union(acc.begin(), acc.end(), sets[i].begin(), sets[i].end(),
                     std::back_inserter(next), ValueLess);
    } else if (op == "intersection") {
      std::set_intersection(acc.begin(), acc.end(), sets[i].begin(), sets[i].end(),
                            std::back_inserter(next), ValueLess);
    } else if (op == "subtract") {
      std::set_difference(acc.begin(), acc.end(), sets[i].begin(), sets[i].end(),
                          std::back_inserter(next), ValueLess);
    } else {
      std::set_symmetric_difference(acc.begin(), acc.end(), sets[i].begin(), sets[i].end(),
                                    std::back_inserter(next), ValueLess);
    }
    acc = std::move(next);
  }
  return Value::Set(std::move(acc));
}

void DefineCollections(Scope* s) {
  Define(s, "length", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    const Value& v = a[0];
    if (v.is_null()) {
      return Error::InvalidArgument("argument must not be null");
    }
    if (v.is_sequence() || v.is_mapping()) {
      return Num(static_cast<double>(v.size()));
    }
    if (v.is_string()) {
      return Num(static_cast<double>(RuneOffsets(v.AsString()).size() - 1));
    }
    return Error::InvalidArgument("collection must be a list, a map or a tuple");
  });
  Define(s, "concat", 1, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    Value::Elements out;
    for (size_t i = 0; i < a.size(); ++i) {
      Value v = BERTH_TRY(SequenceArg(a, i, "seqs"));
      out.insert(out.end(), v.elements().begin(), v.elements().end());
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
    }
    return Value::Tuple(std::move(out));
  });
  Define(s, "contains", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Value::Elements e = BERTH_TRY(Elements(a, 0, "list"));
    return Value::Bool(std::find(e.begin(), e.end(), a[1]) != e.end());
  });
  Define(s, "distinct", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value::Elements out;
    std::set<Value, decltype(&ValueLess)> seen(&ValueLess);
    for (const Value& v : BERTH_TRY(Elements(a, 0, "list"))) {
      if (seen.insert(v).second) {
        out.push_back(v);
      }
    }
    return Value::List(std::move(out));
  });
  Define(s, "flatten", 1, 1, [](CallContext& ctx, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    Value::Elements out;
    BERTH_TRY(FlattenInto(v, &out, ctx));
    return Value::Tuple(std::move(out));
  });
  Define(s, "keys", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value m = BERTH_TRY(MappingArg(a, 0, "inputMap"));
    Value::Elements out;
    for (const auto& [k, v] : m.attributes()) {
      out.push_back(Str(k));
    }
    return m.kind() == ValueKind::kMap ? Value::List(std::move(out)) : Value::Tuple(std::move(out));
  });
  Define(s, "values", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value m = BERTH_TRY(MappingArg(a, 0, "mapping"));
    Value::Elements out;
    for (const auto& [k, v] : m.attributes()) {
      out.push_back(v);
    }
    return m.kind() == ValueKind::kMap ? Value::List(std::move(out)) : Value::Tuple(std::move(out));
  });
  Define(s, "lookup", 2, 3, [](CallContext&, Args& a) -> Result<Value> {
    Value m = BERTH_TRY(MappingArg(a, 0, "inputMap"));
    std::string key = BERTH_TRY(StringArg(a, 1, "key"));
    if (const Value* v = m.Find(key)) {
      return *v;
    }
    if (a.size() == 3) {
      return a[2];
    }
    return Error::InvalidArgument("the given key does not identify an element in this map: " +
                                  QuoteString(key));
  });
  Define(s, "merge", 0, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    Value::Attributes out;
    bool all_maps = true;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].is_null()) {
        continue;
      }
      Value m = BERTH_TRY(MappingArg(a, i, "maps"));
      all_maps = all_maps && m.kind() == ValueKind::kMap;
      for (const auto& [k, v] : m.attributes()) {
        out.insert_or_assign(k, v);
      }
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
    }
    return all_maps && !a.empty() ? Value::Map(std::move(out)) : Value::Object(std::move(out));
  });
  Define(s, "range", 1, 3, [](CallContext&, Args& a) -> Result<Value> {
    double start = 0;
    double end = 0;
    double step = 1;
    if (a.size() == 1) {
      end = BERTH_TRY(NumberArg(a, 0, "limit"));
    } else {
      start = BERTH_TRY(NumberArg(a, 0, "start"));
      end = BERTH_TRY(NumberArg(a, 1, "limit"));
      step = a.size() == 3 ? BERTH_TRY(NumberArg(a, 2, "step")) : (end < start ? -1 : 1);
    }
    if (step == 0) {
      return Error::InvalidArgument("step must not be zero");
    }
    if ((step > 0 && end < start) || (step < 0 && end > start)) {
      return Error::InvalidArgument(step > 0 ? "start must be less than or equal to limit when "
                                               "step is positive"
                                             : "start must be greater than or equal to limit "
                                               "when step is negative");
    }
    // cty refuses to produce more than 1024 elements.
    constexpr size_t kMaxRange = 1024;
    Value::Elements out;
    for (double v = start; step > 0 ? v < end : v > end; v += step) {
      if (out.size() >= kMaxRange) {
        return Error::InvalidArgument(
            "more than 1024 values were generated; either decrease "
            "the difference between start and end or use a smaller "
            "step");
      }
      out.push_back(Num(v));
    }
    return Value::List(std::move(out));
  });
  // cty's reverse takes a string; reverselist a sequence.
  Define(s, "reverse", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    std::vector<size_t> offs = RuneOffsets(in);
    std::string out;
    for (size_t i = offs.size() - 1; i > 0; --i) {
      out += in.substr(offs[i - 1], offs[i] - offs[i - 1]);
    }
    return Str(out);
  });
  Define(s, "reverselist", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    Value::Elements e = v.elements();
    std::reverse(e.begin(), e.end());
    return v.kind() == ValueKind::kList ? Value::List(std::move(e)) : Value::Tuple(std::move(e));
  });
  Define(s, "slice", 3, 3, [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    const int64_t b = BERTH_TRY(IntArg(a, 1, "start_index"));
    const int64_t e = BERTH_TRY(IntArg(a, 2, "end_index"));
    if (b < 0) {
      return Error::InvalidArgument(
          "invalid value for \"start_index\" parameter: must be "
          "greater than or equal to 0");
    }
    if (e > static_cast<int64_t>(v.size())) {
      return Error::InvalidArgument(
          "invalid value for \"end_index\" parameter: end index must "
          "be less than or equal to the length of the list");
    }
    if (b > e) {
      return Error::InvalidArgument(
          "invalid value for \"start_index\" parameter: start index "
          "must be less than or equal to end index");
    }
    Value::Elements out(v.elements().begin() + b, v.elements().begin() + e);
    return SameKindSequence(v.kind() == ValueKind::kSet ? Value::EmptyTuple() : v, std::move(out));
  });
  Define(s, "sort", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    std::vector<std::string> strs;
    for (const Value& e : v.elements()) {
      if (e.is_null()) {
        return Error::InvalidArgument(
            "given list element is null; a null value cannot be "
            "sorted");
      }
      Result<std::string> str = ToString(e);
      if (!str.ok()) {
        return Error::InvalidArgument(
            "invalid value for \"list\" parameter: list of string "
            "required");
      }
      strs.push_back(*str);
    }
    std::sort(strs.begin(), strs.end());
    Value::Elements out;
    for (std::string& str : strs) {
      out.push_back(Str(std::move(str)));
    }
    return Value::List(std::move(out));
  });
  Define(s, "element", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    const int64_t i = BERTH_TRY(IntArg(a, 1, "index"));
    if (v.kind() == ValueKind::kSet) {
      return Error::InvalidArgument("cannot use element function with a set");
    }
    if (v.size() == 0) {
      return Error::InvalidArgument("cannot use element function with an empty list");
    }
    if (i < 0) {
      return Error::InvalidArgument("cannot use element function with a negative index");
    }
    return v.elements()[static_cast<size_t>(i) % v.size()];
  });
  auto index_of = [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    if (v.size() == 0) {
      return Error::InvalidArgument("cannot search an empty list");
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (v.elements()[i] == a[1]) {
        return Num(static_cast<double>(i));
      }
    }
    return Error::InvalidArgument("item not found");
  };
  // cty's index is element access (what `collection[key]` does); indexof searches.
  Define(s, "index", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    const Value& c = a[0];
    if (c.is_null() || a[1].is_null()) {
      return Error::InvalidArgument("argument must not be null");
    }
    if (c.is_mapping()) {
      std::string key = BERTH_TRY(StringArg(a, 1, "key"));
      if (const Value* v = c.Find(key)) {
        return *v;
      }
      return Error::InvalidArgument(
          "the given key does not identify an element in this "
          "collection value");
    }
    if (c.is_sequence() && c.kind() != ValueKind::kSet) {
      const int64_t i = BERTH_TRY(IntArg(a, 1, "key"));
      if (i < 0 || static_cast<uint64_t>(i) >= c.size()) {
        return Error::InvalidArgument(
            "the given key does not identify an element in this "
            "collection value");
      }
      return c.elements()[static_cast<size_t>(i)];
    }
    return Error::InvalidArgument("the collection must be a list, a map or a tuple");
  });
  Define(s, "indexof", 2, 2, index_of);
  Define(s, "hasindex", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    const Value& c = a[0];
    if (c.is_mapping()) {
      Result<std::string> k = ToString(a[1]);
      return Value::Bool(k.ok() && c.Find(*k) != nullptr);
    }
    if (c.is_sequence() && c.kind() != ValueKind::kSet) {
      Result<Value> n = Convert(a[1], Type::Number());
      if (!n.ok() || n->is_null()) {
        return Value::Bool(false);
      }
      const double i = n->AsNumber();
      return Value::Bool(i == std::floor(i) && i >= 0 && i < static_cast<double>(c.size()));
    }
    return Error::InvalidArgument("collection must be a list, a map or a tuple");
  });
  Define(s, "coalesce", 1, -1, [](CallContext&, Args& a) -> Result<Value> {
    for (const Value& v : a) {
      if (!v.is_null()) {
        return v;
      }
    }
    return Error::InvalidArgument("no non-null arguments");
  });
  Define(s, "coalescelist", 1, -1, [](CallContext&, Args& a) -> Result<Value> {
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].is_null()) {
        continue;
      }
      Value v = BERTH_TRY(SequenceArg(a, i, "vals"));
      if (v.size() > 0) {
        return v;
      }
    }
    return Error::InvalidArgument("no non-null arguments");
  });
  Define(s, "compact", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Value::Elements out;
    for (const Value& v : BERTH_TRY(Elements(a, 0, "list"))) {
      if (v.is_null()) {
        continue;
      }
      Result<std::string> str = ToString(v);
      if (!str.ok()) {
        return Error::InvalidArgument(
            "invalid value for \"list\" parameter: list of string "
            "required");
      }
      if (!str->empty()) {
        out.push_back(Str(*str));
      }
    }
    return Value::List(std::move(out));
  });
  Define(s, "zipmap", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Value::Elements keys = BERTH_TRY(Elements(a, 0, "keys"));
    Value::Elements values = BERTH_TRY(Elements(a, 1, "values"));
    if (keys.size() != values.size()) {
      return Error::InvalidArgument("number of keys (" + std::to_string(keys.size()) +
                                    ") does not match number of values (" +
                                    std::to_string(values.size()) + ")");
    }
    Value::Attributes out;
    for (size_t i = 0; i < keys.size(); ++i) {
      Result<std::string> k = ToString(keys[i]);
      if (!k.ok()) {
        return Error::InvalidArgument(
            "invalid value for \"keys\" parameter: list of string "
            "required");
      }
      out.insert_or_assign(*k, values[i]);
    }
    return Value::Object(std::move(out));
  });
  Define(s, "chunklist", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Value v = BERTH_TRY(SequenceArg(a, 0, "list"));
    const int64_t size = BERTH_TRY(IntArg(a, 1, "size"));
    if (size < 0) {
      return Error::InvalidArgument("the size argument must be positive");
    }
    Value::Elements out;
    const Value::Elements& e = v.elements();
    if (size == 0) {
      out.push_back(Value::List(e));
      return Value::List(std::move(out));
    }
    for (size_t i = 0; i < e.size(); i += static_cast<size_t>(size)) {
      const size_t end = std::min(e.size(), i + static_cast<size_t>(size));
      out.push_back(Value::List(Value::Elements(e.begin() + static_cast<ptrdiff_t>(i),
                                                e.begin() + static_cast<ptrdiff_t>(end))));
    }
    return Value::List(std::move(out));
  });
  Define(s, "setproduct", 1, -1, [](CallContext& ctx, Args& a) -> Result<Value> {
    size_t total = 1;
    for (size_t i = 0; i < a.size(); ++i) {
      Value v = BERTH_TRY(SequenceArg(a, i, "sets"));
      total *= v.size();
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(total));
    }
    BERTH_TRY(ctx.evaluator.Charge(total * a.size()));
    Value::Elements out;
    std::vector<size_t> idx(a.size(), 0);
    for (size_t n = 0; n < total; ++n) {
      Value::Elements row;
      for (size_t i = 0; i < a.size(); ++i) {
        row.push_back(a[i].elements()[idx[i]]);
      }
      out.push_back(Value::List(std::move(row)));
      for (size_t i = a.size(); i-- > 0;) {
        if (++idx[i] < a[i].size()) {
          break;
        }
        idx[i] = 0;
      }
    }
    return Value::List(std::move(out));
  });
  Define(s, "setunion", 1, -1, [](CallContext&, Args& a) { return SetOp(a, "union"); });
  Define(s, "setintersection", 1, -1,
         [](CallContext&, Args& a) { return SetOp(a, "intersection"); });
  Define(s, "setsubtract", 2, 2, [](CallContext&, Args& a) { return SetOp(a, "subtract"); });
  Define(s, "setsymmetricdifference", 1, -1,
         [](CallContext&, Args& a) { return SetOp(a, "symmetric"); });
  Define(s, "sethaselement", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Value::Elements e = BERTH_TRY(Elements(a, 0, "set"));
    return Value::Bool(std::find(e.begin(), e.end(), a[1]) != e.end());
  });
}

// ---- numbers and logic ----

void DefineNumbers(Scope* s) {
  auto unary = [s](const std::string& name, double (*fn)(double)) {
    Define(s, name, 1, 1, [fn](CallContext&, Args& a) -> Result<Value> {
      return Num(fn(BERTH_TRY(NumberArg(a, 0, "num"))));
    });
  };
  unary("absolute", [](double x) { return std::fabs(x); });
  unary("ceil", [](double x) { return std::ceil(x); });
  unary("floor", [](double x) { return std::floor(x); });
  unary("negate", [](double x) { return -x; });
  unary("int", [](double x) { return std::trunc(x); });
  unary("signum", [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; });
  auto binary = [s](const std::string& name, Result<double> (*fn)(double, double)) {
    Define(s, name, 2, 2, [fn](CallContext&, Args& a) -> Result<Value> {
      const double x = BERTH_TRY(NumberArg(a, 0, "a"));
      const double y = BERTH_TRY(NumberArg(a, 1, "b"));
      const double r = BERTH_TRY(fn(x, y));
      if (!std::isfinite(r)) {
        return Error::InvalidArgument("the result is not a finite number");
      }
      return Num(r);
    });
  };
  binary("add", [](double x, double y) -> Result<double> { return x + y; });
  binary("subtract", [](double x, double y) -> Result<double> { return x - y; });
  binary("multiply", [](double x, double y) -> Result<double> { return x * y; });
  binary("divide", [](double x, double y) -> Result<double> {
    if (y == 0) {
      return Error::InvalidArgument("can't divide by zero");
    }
    return x / y;
  });
  binary("modulo", [](double x, double y) -> Result<double> {
    if (y == 0) {
      return Error::InvalidArgument("can't use modulo by zero");
    }
    return std::fmod(x, y);
  });
  binary("pow", [](double x, double y) -> Result<double> { return std::pow(x, y); });
  binary("log", [](double x, double y) -> Result<double> { return std::log(x) / std::log(y); });
  auto extreme = [s](const std::string& name, bool want_max) {
    Define(s, name, 1, -1, [want_max](CallContext&, Args& a) -> Result<Value> {
      double best = BERTH_TRY(NumberArg(a, 0, "numbers"));
      for (size_t i = 1; i < a.size(); ++i) {
        const double n = BERTH_TRY(NumberArg(a, i, "numbers"));
        best = want_max ? std::max(best, n) : std::min(best, n);
      }
      return Num(best);
    });
  };
  extreme("max", true);
  extreme("min", false);
  Define(s, "parseint", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string str = BERTH_TRY(StringArg(a, 0, "number"));
    const int64_t base = BERTH_TRY(IntArg(a, 1, "base"));
    if (base < 2 || base > 62) {
      return Error::InvalidArgument(
          "invalid value for \"base\" parameter: base must be a whole "
          "number between 2 and 62 inclusive");
    }
    size_t i = 0;
    bool neg = false;
    if (i < str.size() && (str[i] == '-' || str[i] == '+')) {
      neg = str[i] == '-';
      ++i;
    }
    if (i == str.size()) {
      return Error::InvalidArgument("cannot parse " + QuoteString(str) + " as a base " +
                                    std::to_string(base) + " integer");
    }
    double n = 0;
    for (; i < str.size(); ++i) {
      const char c = str[i];
      int d = -1;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'z') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'Z') {
        d = base <= 36 ? c - 'A' + 10 : c - 'A' + 36;
      }
      if (d < 0 || d >= base) {
        return Error::InvalidArgument("cannot parse " + QuoteString(str) + " as a base " +
                                      std::to_string(base) + " integer");
      }
      n = n * static_cast<double>(base) + d;
    }
    if (!std::isfinite(n)) {
      return Error::InvalidArgument("number is out of range");
    }
    return Num(neg ? -n : n);
  });
  auto compare = [s](const std::string& name, bool (*fn)(double, double)) {
    Define(s, name, 2, 2, [fn](CallContext&, Args& a) -> Result<Value> {
      return Value::Bool(fn(BERTH_TRY(NumberArg(a, 0, "a")), BERTH_TRY(NumberArg(a, 1, "b"))));
    });
  };
  compare("greaterthan", [](double x, double y) { return x > y; });
  compare("greaterthanorequalto", [](double x, double y) { return x >= y; });
  compare("lessthan", [](double x, double y) { return x < y; });
  compare("lessthanorequalto", [](double x, double y) { return x <= y; });
  Define(s, "equal", 2, 2,
         [](CallContext&, Args& a) -> Result<Value> { return Value::Bool(a[0] == a[1]); });
  Define(s, "notequal", 2, 2,
         [](CallContext&, Args& a) -> Result<Value> { return Value::Bool(!(a[0] == a[1])); });
  Define(s, "and", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    const bool x = BERTH_TRY(BoolArg(a, 0, "a"));
    const bool y = BERTH_TRY(BoolArg(a, 1, "b"));
    return Value::Bool(x && y);
  });
  Define(s, "or", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    const bool x = BERTH_TRY(BoolArg(a, 0, "a"));
    const bool y = BERTH_TRY(BoolArg(a, 1, "b"));
    return Value::Bool(x || y);
  });
  Define(s, "not", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Value::Bool(!BERTH_TRY(BoolArg(a, 0, "val")));
  });
}

// ---- encodings ----

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += kBase64[n & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) {
    return Error::InvalidArgument("failed to decode base64 data " + QuoteString(in));
  }
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = in[i + j];
      uint32_t d = 0;
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        ++pad;
      } else {
        const char* p = c == '\0' ? nullptr : std::strchr(kBase64, c);
        if (p == nullptr || pad > 0) {
          return Error::InvalidArgument("failed to decode base64 data " + QuoteString(in));
        }
        d = static_cast<uint32_t>(p - kBase64);
      }
      n = (n << 6) | d;
    }
    out.push_back(static_cast<char>((n >> 16) & 255));
    if (pad < 2) {
      out.push_back(static_cast<char>((n >> 8) & 255));
    }
    if (pad < 1) {
      out.push_back(static_cast<char>(n & 255));
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto r = gotext::DecodeRune(s, i);
    if (r.rune == gotext::kRuneError && r.width == 1) {
      return false;
    }
    i += r.width;
  }
  return true;
}

void DefineEncodings(Scope* s) {
  Define(s, "base64encode", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Str(Base64Encode(BERTH_TRY(StringArg(a, 0, "str"))));
  });
  Define(s, "base64decode", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string out = BERTH_TRY(Base64Decode(BERTH_TRY(StringArg(a, 0, "str"))));
    if (!ValidUtf8(out)) {
      return Error::InvalidArgument(
          "the result of decoding the provided string is not valid "
          "UTF-8");
    }
    return Str(out);
  });
  Define(s, "jsonencode", 1, 1, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::optional<std::string> out = JsonEncode(a[0], ctx.evaluator.limits().max_string_bytes);
    if (!out) {
      return Error::InvalidArgument("the encoded value is longer than the limit of " +
                                    std::to_string(ctx.evaluator.limits().max_string_bytes) +
                                    " bytes");
    }
    return Str(std::move(*out));
  });
  Define(s, "jsondecode", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return JsonDecode(BERTH_TRY(StringArg(a, 0, "str")));
  });
  Define(s, "csvdecode", 1, 1, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    auto records = BERTH_TRY(ReadCsv(in, true));
    if (records.empty()) {
      return Error::InvalidArgument("missing header line");
    }
    Value::Elements out;
    for (size_t r = 1; r < records.size(); ++r) {
      Value::Attributes row;
      for (size_t f = 0; f < records[0].size(); ++f) {
        row.insert_or_assign(records[0][f], Str(records[r][f]));
      }
      out.push_back(Value::Object(std::move(row)));
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
    }
    return Value::List(std::move(out));
  });
  Define(s, "urlencode", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    std::string in = BERTH_TRY(StringArg(a, 0, "str"));
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : in) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
    return Str(out);
  });
}

// ---- paths, environment, versions ----

std::string BaseName(std::string p) {
  if (p.empty()) {
    return ".";
  }
  while (p.size() > 1 && p.back() == '/') {
    p.pop_back();
  }
  if (p == "/") {
    return "/";
  }
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

struct SemVer {
  int64_t major = 0, minor = 0, patch = 0;
  std::string pre;
  // Which parts were given (for constraints like "1.2" or "1.x").
  int given = 3;
};

std::optional<SemVer> ParseSemVer(std::string_view v, bool allow_wildcards) {
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) {
    v.remove_prefix(1);
  }
  SemVer out;
  const size_t meta = v.find('+');
  if (meta != std::string_view::npos) {
    v = v.substr(0, meta);
  }
  const size_t dash = v.find('-');
  if (dash != std::string_view::npos) {
    out.pre = std::string(v.substr(dash + 1));
    v = v.substr(0, dash);
    if (out.pre.empty()) {
      return std::nullopt;
    }
  }
  std::vector<std::string> parts = StrSplit(v, '.');
  if (parts.empty() || parts.size() > 3) {
    return std::nullopt;
  }
  int64_t* fields[3] = {&out.major, &out.minor, &out.patch};
  out.given = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (allow_wildcards && (p == "x" || p == "X" || p == "*")) {
      break;
    }
    if (p.empty() || p.size() > 15 || p.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    *fields[i] = std::stoll(p);
    out.given = static_cast<int>(i) + 1;
  }
  return out;
}

int ComparePre(const std::string& a, const std::string& b) {
  if (a == b) {
    return 0;
  }
  if (a.empty()) {
    return 1;
  }
  if (b.empty()) {
    return -1;
  }
  std::vector<std::string> pa = StrSplit(a, '.');
  std::vector<std::string> pb = StrSplit(b, '.');
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i) {
    const bool na = !pa[i].empty() && pa[i].find_first_not_of("0123456789") == std::string::npos;
    const bool nb = !pb[i].empty() && pb[i].find_first_not_of("0123456789") == std::string::npos;
    if (na && nb) {
      if (pa[i].size() != pb[i].size()) {
        return pa[i].size() < pb[i].size() ? -1 : 1;
      }
    } else if (na != nb) {
      return na ? -1 : 1;
    }
    if (pa[i] != pb[i]) {
      return pa[i] < pb[i] ? -1 : 1;
    }
  }
  return pa.size() == pb.size() ? 0 : (pa.size() < pb.size() ? -1 : 1);
}

int CompareSemVer(const SemVer& a, const SemVer& b) {
  if (a.major != b.major) {
    return a.major < b.major ? -1 : 1;
  }
  if (a.minor != b.minor) {
    return a.minor < b.minor ? -1 : 1;
  }
  if (a.patch != b.patch) {
    return a.patch < b.patch ? -1 : 1;
  }
  return ComparePre(a.pre, b.pre);
}

// One constraint term ("> 1.2", "~1.2.3", "^2", "1.x") against a version, Masterminds-style.
Result<bool> MatchTerm(const SemVer& v, std::string_view term) {
  term = Trim(term);
  std::string op;
  while (!term.empty() && std::string_view("<>=!~^").find(term.front()) != std::string_view::npos) {
    op.push_back(term.front());
    term.remove_prefix(1);
  }
  term = Trim(term);
  if (term.empty() || term == "*" || term == "x" || term == "X") {
    return v.pre.empty();
  }
  std::optional<SemVer> c = ParseSemVer(term, true);
  if (!c) {
    return Error::InvalidArgument("improper constraint: " + std::string(term));
  }
  // A prerelease version only satisfies constraints that mention a prerelease.
  if (!v.pre.empty() && c->pre.empty()) {
    return false;
  }
  SemVer lo = *c;
  SemVer hi = *c;
  hi.pre.clear();
  const int cmp = CompareSemVer(v, *c);
  auto upper = [&](int part) {
    SemVer h;
    if (part == 0) {
      h.major = c->major + 1;
    } else if (part == 1) {
      h.major = c->major;
      h.minor = c->minor + 1;
    } else {
      h.major = c->major;
      h.minor = c->minor;
      h.patch = c->patch + 1;
    }
    h.pre = "0";  // below every release of that version
    return h;
  };
  if (op.empty() || op == "=" || op == "==") {
    if (c->given < 3) {
      return CompareSemVer(v, lo) >= 0 &&
             CompareSemVer(v, upper(c->given == 0 ? -1 : c->given - 1)) < 0;
    }
    return cmp == 0;
  }
  if (op == "!=") {
    return cmp != 0;
  }
  if (op == ">") {
    if (c->given < 3) {
      return CompareSemVer(v, upper(c->given - 1)) >= 0;
    }
    return cmp > 0;
  }
  if (op == ">=" || op == "=>") {
    return cmp >= 0;
  }
  if (op == "<") {
    return cmp < 0;
  }
  if (op == "<=" || op == "=<") {
    if (c->given < 3) {
      return CompareSemVer(v, upper(c->given - 1)) < 0;
    }
    return cmp <= 0;
  }
  if (op == "~" || op == "~>") {
    return cmp >= 0 && CompareSemVer(v, upper(c->given >= 2 ? 1 : 0)) < 0;
  }
  if (op == "^") {
    int part = 0;
    if (c->major == 0 && c->given >= 2) {
      part = (c->minor == 0 && c->given >= 3) ? 2 : 1;
    }
    return cmp >= 0 && CompareSemVer(v, upper(part)) < 0;
  }
  return Error::InvalidArgument("improper constraint operator " + QuoteString(op));
}

Result<bool> SemVerMatches(const SemVer& v, std::string_view constraint) {
  size_t start = 0;
  while (true) {
    size_t bar = constraint.find("||", start);
    std::string_view alt = constraint.substr(
        start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    bool all = true;
    for (const std::string& term : StrSplit(alt, ',')) {
      std::string_view t = Trim(term);
      // Hyphen ranges: "1.2 - 1.4".
      const size_t hyphen = t.find(" - ");
      if (hyphen != std::string_view::npos) {
        all = all && BERTH_TRY(MatchTerm(v, ">=" + std::string(t.substr(0, hyphen)))) &&
              BERTH_TRY(MatchTerm(v, "<=" + std::string(t.substr(hyphen + 3))));
        continue;
      }
      // Space-separated terms are ANDed too (">= 1.2 < 2").
      std::vector<std::string> words;
      std::string current;
      for (const std::string& w : StrSplit(t, ' ')) {
        if (w.empty()) {
          continue;
        }
        if (!current.empty() && w.find_first_of("<>=!~^") == 0) {
          words.push_back(current);
          current.clear();
        }
        current += w;
      }
      if (!current.empty()) {
        words.push_back(current);
      }
      if (words.empty()) {
        words.emplace_back("*");
      }
      for (const std::string& w : words) {
        all = all && BERTH_TRY(MatchTerm(v, w));
      }
    }
    if (all) {
      return true;
    }
    if (bar == std::string_view::npos) {
      return false;
    }
    start = bar + 2;
  }
}

void DefineMisc(Scope* s) {
  Define(s, "basename", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Str(BaseName(BERTH_TRY(StringArg(a, 0, "path"))));
  });
  Define(s, "dirname", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    return Str(gotext::DirPath(BERTH_TRY(StringArg(a, 0, "path"))));
  });
  Define(s, "homedir", 0, 0, [](CallContext&, Args&) -> Result<Value> {
    // berth does not change its environment after startup, so reading it is safe.
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
    if (home == nullptr || *home == '\0') {
      return Error::InvalidArgument("the home directory is not known ($HOME is unset)");
    }
    return Str(home);
  });
  Define(s, "semvercmp", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string version = BERTH_TRY(StringArg(a, 0, "version"));
    std::string constraint = BERTH_TRY(StringArg(a, 1, "constraint"));
    std::optional<SemVer> v = ParseSemVer(version, false);
    if (!v) {
      return Error::InvalidArgument("invalid semantic version " + QuoteString(version));
    }
    return Value::Bool(BERTH_TRY(SemVerMatches(*v, constraint)));
  });
}

}  // namespace

void DefineStringFunctions(Scope* scope) {
  DefineStrings(scope);
}
void DefineCollectionFunctions(Scope* scope) {
  DefineCollections(scope);
}
void DefineNumericFunctions(Scope* scope) {
  DefineNumbers(scope);
}
void DefineEncodingFunctions(Scope* scope) {
  DefineEncodings(scope);
}
void DefineMiscFunctions(Scope* scope) {
  DefineMisc(scope);
}

}  // namespace internal

const Scope& StdlibScope() {
  static const Scope scope = [] {
    Scope s;
    internal::DefineStringFunctions(&s);
    internal::DefineCollectionFunctions(&s);
    internal::DefineNumericFunctions(&s);
    internal::DefineEncodingFunctions(&s);
    internal::DefineCryptoFunctions(&s);
    internal::DefineRegexFunctions(&s);
    internal::DefineTimeFunctions(&s);
    internal::DefineNetworkFunctions(&s);
    internal::DefineMiscFunctions(&s);
    return s;
  }();
  return scope;
}

std::vector<std::string> StdlibFunctionNames() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : StdlibScope().functions()) {
    names.push_back(name);
  }
  for (const char* special : {"can", "convert", "try"}) {
    names.emplace_back(special);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace berth::frontend::bake::hcl
