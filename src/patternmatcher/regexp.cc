#include "patternmatcher/regexp.h"

#include <algorithm>
#include <map>
#include <string>

#include "base/gotext.h"

namespace berth::patternmatcher::internal {
namespace {

using gotext::DecodedRune;
using gotext::DecodeRune;
using gotext::kMaxRune;
using gotext::kRuneError;

using Ranges = std::vector<std::pair<char32_t, char32_t>>;

// Go rejects expressions nested deeper than this ("expression nests too deeply").
constexpr int kMaxHeight = 1000;
// Go rejects counted repetitions above this, alone or multiplied through nesting.
constexpr int kMaxRepeat = 1000;

bool IsAsciiAlnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsWordChar(int32_t c) {
  return c >= 0 && (IsAsciiAlnum(static_cast<char32_t>(c)) || c == '_');
}

int Unhex(char32_t c) {
  if (c >= '0' && c <= '9') {
    return static_cast<int>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<int>(c - 'a' + 10);
  }
  if (c >= 'A' && c <= 'F') {
    return static_cast<int>(c - 'A' + 10);
  }
  return -1;
}

Ranges Normalize(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end());
  Ranges out;
  for (const auto& r : ranges) {
    if (!out.empty() && r.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

Ranges Negate(const Ranges& normalized) {
  Ranges out;
  char32_t next = 0;
  for (const auto& r : normalized) {
    if (r.first > next) {
      out.emplace_back(next, r.first - 1);
    }
    next = r.second + 1;
  }
  if (next <= kMaxRune) {
    out.emplace_back(next, kMaxRune);
  }
  return out;
}

void AppendMaybeNegated(Ranges group, bool negate, Ranges* out) {
  if (negate) {
    group = Negate(Normalize(std::move(group)));
  }
  out->insert(out->end(), group.begin(), group.end());
}

// The Perl classes \d \s \w (ASCII only, as in Go) and their negations. Returns false for
// any other letter.
bool AppendPerlClass(char c, Ranges* out) {
  Ranges group;
  switch (c) {
    case 'd':
    case 'D':
      group = {{'0', '9'}};
      break;
    case 's':
    case 'S':
      group = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
      break;
    case 'w':
    case 'W':
      group = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
      break;
    default:
      return false;
  }
  AppendMaybeNegated(std::move(group), c >= 'A' && c <= 'Z', out);
  return true;
}

// The POSIX classes "[:alpha:]" etc. and "[:^alpha:]". Returns false for an unknown name.
bool AppendPosixClass(std::string_view name, Ranges* out) {
  bool negate = false;
  std::string_view inner = name.substr(2, name.size() - 4);
  if (!inner.empty() && inner[0] == '^') {
    negate = true;
    inner.remove_prefix(1);
  }
  Ranges group;
  if (inner == "alnum") {
    group = {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}};
  } else if (inner == "alpha") {
    group = {{'A', 'Z'}, {'a', 'z'}};
  } else if (inner == "ascii") {
    group = {{0, 0x7F}};
  } else if (inner == "blank") {
    group = {{'\t', '\t'}, {' ', ' '}};
  } else if (inner == "cntrl") {
    group = {{0, 0x1F}, {0x7F, 0x7F}};
  } else if (inner == "digit") {
    group = {{'0', '9'}};
  } else if (inner == "graph") {
    group = {{'!', '~'}};
  } else if (inner == "lower") {
    group = {{'a', 'z'}};
  } else if (inner == "print") {
    group = {{' ', '~'}};
  } else if (inner == "punct") {
    group = {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}};
  } else if (inner == "space") {
    group = {{'\t', '\r'}, {' ', ' '}};
  } else if (inner == "upper") {
    group = {{'A', 'Z'}};
  } else if (inner == "word") {
    group = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  } else if (inner == "xdigit") {
    group = {{'0', '9'}, {'A', 'F'}, {'a', 'f'}};
  } else {
    return false;
  }
  AppendMaybeNegated(std::move(group), negate, out);
  return true;
}

Error SyntaxError(std::string_view what, std::string_view expr) {
  return Error::InvalidArgument(std::string(what) + ": `" + std::string(expr) + "`");
}

}  // namespace

bool Regexp::CharClass::Contains(char32_t r) const {
  if (r < 128) {
    return (ascii[r >> 6] >> (r & 63)) & 1;
  }
  auto it = std::upper_bound(ranges.begin(), ranges.end(), r,
                             [](char32_t v, const auto& range) { return v < range.first; });
  return it != ranges.begin() && r <= std::prev(it)->second;
}

// Parses Go regexp syntax into a small tree, then emits a Thompson NFA program.
class RegexpCompiler {
 public:
  explicit RegexpCompiler(std::string_view expr) : s_(expr) {}

  Result<Regexp> Run() {
    int root = BERTH_TRY(ParseAlternation());
    if (i_ < s_.size()) {
      // Only an unmatched ')' stops the top-level parse early.
      return SyntaxError("unexpected )", s_);
    }
    const Node& top = nodes_[root];
    re_.anchored_ = IsBeginText(root) ||
                    (top.kind == Kind::kConcat && !top.subs.empty() && IsBeginText(top.subs[0]));
    uint32_t match = Emit({.op = Regexp::Op::kMatch});
    re_.start_ = CompileNode(root, match);
    if (too_large_) {
      return SyntaxError("expression too large", s_);
    }
    return std::move(re_);
  }

 private:
  enum class Kind { kEmpty, kClass, kAssert, kConcat, kAlternate, kStar, kPlus, kQuest, kRepeat };

  struct Node {
    Kind kind;
    uint32_t char_class = 0;
    Regexp::Assertion assertion = Regexp::Assertion::kBeginText;
    std::vector<int> subs;
    int min = 0;
    int max = 0;
    int height = 1;
  };

  bool IsBeginText(int node) const {
    return nodes_[node].kind == Kind::kAssert &&
           nodes_[node].assertion == Regexp::Assertion::kBeginText;
  }

  int AddNode(Node node) {
    for (int sub : node.subs) {
      node.height = std::max(node.height, nodes_[sub].height + 1);
    }
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size() - 1);
  }

  int AddClass(const Ranges& ranges) {
    Regexp::CharClass cls;
    cls.ranges = Normalize(ranges);
    // Literals repeat a lot; share one class per distinct set.
    auto [it, inserted] =
        class_index_.try_emplace(cls.ranges, static_cast<uint32_t>(re_.classes_.size()));
    if (!inserted) {
      return AddNode({.kind = Kind::kClass, .char_class = it->second});
    }
    for (const auto& [lo, hi] : cls.ranges) {
      for (char32_t c = lo; c <= hi && c < 128; ++c) {
        cls.ascii[c >> 6] |= uint64_t{1} << (c & 63);
      }
    }
    re_.classes_.push_back(std::move(cls));
    return AddNode(
        {.kind = Kind::kClass, .char_class = static_cast<uint32_t>(re_.classes_.size() - 1)});
  }

  int AddLiteral(char32_t r) { return AddClass({{r, r}}); }

  int AddAssert(Regexp::Assertion a) { return AddNode({.kind = Kind::kAssert, .assertion = a}); }

  Result<char32_t> NextRune() {
    DecodedRune d = DecodeRune(s_.substr(i_));
    if (d.rune == kRuneError && d.width == 1) {
      return SyntaxError("invalid UTF-8", s_.substr(i_));
    }
    i_ += d.width;
    return d.rune;
  }

  Result<int> ParseAlternation() {
    if (++depth_ > kMaxHeight) {
      return SyntaxError("expression nests too deeply", s_);
    }
    std::vector<int> alternatives;
    alternatives.push_back(BERTH_TRY(ParseConcat()));
    while (i_ < s_.size() && s_[i_] == '|') {
      ++i_;
      alternatives.push_back(BERTH_TRY(ParseConcat()));
    }
    --depth_;
    if (alternatives.size() == 1) {
      return alternatives[0];
    }
    return AddNode({.kind = Kind::kAlternate, .subs = std::move(alternatives)});
  }

  Result<int> ParseConcat() {
    std::vector<int> items;
    bool last_was_repeat = false;
    while (i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')') {
      bool is_repeat = false;
      const size_t before = i_;
      switch (s_[i_]) {
        case '(': {
          if (i_ + 1 < s_.size() && s_[i_ + 1] == '?') {
            return SyntaxError("unsupported Perl syntax", s_.substr(i_, 2));
          }
          ++i_;
          int sub = BERTH_TRY(ParseAlternation());
          if (i_ >= s_.size() || s_[i_] != ')') {
            return SyntaxError("missing closing )", s_);
          }
          ++i_;
          items.push_back(sub);
          break;
        }
        case '^':
          ++i_;
          items.push_back(AddAssert(Regexp::Assertion::kBeginText));
          break;
        case '$':
          ++i_;
          items.push_back(AddAssert(Regexp::Assertion::kEndText));
          break;
        case '.':
          ++i_;
          items.push_back(AddClass({{0, '\n' - 1}, {'\n' + 1, kMaxRune}}));
          break;
        case '[':
          items.push_back(BERTH_TRY(ParseBracket()));
          break;
        case '*':
        case '+':
        case '?': {
          Kind kind = s_[i_] == '*' ? Kind::kStar : s_[i_] == '+' ? Kind::kPlus : Kind::kQuest;
          ++i_;
          BERTH_TRY(ApplyRepeat(kind, 0, 0, before, last_was_repeat, &items));
          is_repeat = true;
          break;
        }
        case '{': {
          int min = 0;
          int max = 0;
          if (!ParseBraces(&min, &max)) {
            ++i_;
            items.push_back(AddLiteral('{'));
            break;
          }
          if (min < 0 || min > kMaxRepeat || max > kMaxRepeat || (max >= 0 && min > max)) {
            return SyntaxError("invalid repeat count", s_.substr(before, i_ - before));
          }
          BERTH_TRY(ApplyRepeat(Kind::kRepeat, min, max, before, last_was_repeat, &items));
          is_repeat = true;
          break;
        }
        case '\\':
          BERTH_TRY(ParseBackslash(&items));
          break;
        default:
          items.push_back(AddLiteral(BERTH_TRY(NextRune())));
          break;
      }
      last_was_repeat = is_repeat;
    }
    if (items.empty()) {
      return AddNode({.kind = Kind::kEmpty});
    }
    if (items.size() == 1) {
      return items[0];
    }
    return AddNode({.kind = Kind::kConcat, .subs = std::move(items)});
  }

  // Wraps the last item in a repetition; i_ is just past the operator (or the braces).
  Result<> ApplyRepeat(Kind kind, int min, int max, size_t before, bool last_was_repeat,
                       std::vector<int>* items) {
    if (i_ < s_.size() && s_[i_] == '?') {
      ++i_;  // Non-greedy; the same set of matches.
    }
    std::string_view op = s_.substr(before, i_ - before);
    if (last_was_repeat) {
      return SyntaxError("invalid nested repetition operator", op);
    }
    if (items->empty()) {
      return SyntaxError("missing argument to repetition operator", op);
    }
    int node = AddNode({.kind = kind, .subs = {items->back()}, .min = min, .max = max});
    if (nodes_[node].height > kMaxHeight) {
      return SyntaxError("expression nests too deeply", s_);
    }
    if (kind == Kind::kRepeat && (min >= 2 || max >= 2) && !RepeatIsValid(node, kMaxRepeat)) {
      return SyntaxError("invalid repeat count", op);
    }
    items->back() = node;
    return {};
  }

  // Go's repeatIsValid: counted repetitions multiplied through nesting stay within n.
  bool RepeatIsValid(int node, int n) const {
    const Node& nd = nodes_[node];
    if (nd.kind == Kind::kRepeat) {
      int m = nd.max;
      if (m == 0) {
        return true;
      }
      if (m < 0) {
        m = nd.min;
      }
      if (m > n) {
        return false;
      }
      if (m > 0) {
        n /= m;
      }
    }
    return std::all_of(nd.subs.begin(), nd.subs.end(),
                       [&](int sub) { return RepeatIsValid(sub, n); });
  }

  // Reads a decimal for "{n,m}": no leading zeros; values from 10^8 on read as -1.
  bool ParseInt(int* n) {
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') {
      return false;
    }
    if (i_ + 1 < s_.size() && s_[i_] == '0' && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9') {
      return false;
    }
    *n = 0;
    for (; i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; ++i_) {
      if (*n >= 100'000'000 || *n < 0) {
        *n = -1;
      } else {
        *n = *n * 10 + (s_[i_] - '0');
      }
    }
    return true;
  }

  // Parses "{n}", "{n,}" or "{n,m}" at i_; on failure leaves i_ unchanged and returns false
  // ('{' is then a literal).
  bool ParseBraces(int* min, int* max) {
    const size_t start = i_;
    auto fail = [&] {
      i_ = start;
      return false;
    };
    ++i_;
    if (!ParseInt(min) || i_ >= s_.size()) {
      return fail();
    }
    if (s_[i_] != ',') {
      *max = *min;
    } else {
      ++i_;
      if (i_ >= s_.size()) {
        return fail();
      }
      if (s_[i_] == '}') {
        *max = -1;
      } else if (!ParseInt(max)) {
        return fail();
      } else if (*max < 0) {
        *min = -1;
      }
    }
    if (i_ >= s_.size() || s_[i_] != '}') {
      return fail();
    }
    ++i_;
    return true;
  }

  Result<> ParseBackslash(std::vector<int>* items) {
    if (i_ + 1 < s_.size()) {
      switch (s_[i_ + 1]) {
        case 'A':
          i_ += 2;
          items->push_back(AddAssert(Regexp::Assertion::kBeginText));
          return {};
        case 'z':
          i_ += 2;
          items->push_back(AddAssert(Regexp::Assertion::kEndText));
          return {};
        case 'b':
          i_ += 2;
          items->push_back(AddAssert(Regexp::Assertion::kWordBoundary));
          return {};
        case 'B':
          i_ += 2;
          items->push_back(AddAssert(Regexp::Assertion::kNoWordBoundary));
          return {};
        case 'C':
          return SyntaxError("invalid escape sequence", s_.substr(i_, 2));
        case 'Q': {
          size_t end = s_.find("\\E", i_ + 2);
          std::string_view lit = s_.substr(
              i_ + 2, end == std::string_view::npos ? std::string_view::npos : end - (i_ + 2));
          i_ = end == std::string_view::npos ? s_.size() : end + 2;
          while (!lit.empty()) {
            DecodedRune d = DecodeRune(lit);
            if (d.rune == kRuneError && d.width == 1) {
              return SyntaxError("invalid UTF-8", lit);
            }
            items->push_back(AddLiteral(d.rune));
            lit.remove_prefix(d.width);
          }
          return {};
        }
        case 'p':
        case 'P':
          return SyntaxError("Unicode classes are not supported", s_.substr(i_));
        default:
          break;
      }
      Ranges perl;
      if (AppendPerlClass(s_[i_ + 1], &perl)) {
        i_ += 2;
        items->push_back(AddClass(perl));
        return {};
      }
    }
    items->push_back(AddLiteral(BERTH_TRY(ParseEscape())));
    return {};
  }

  // Go's parseEscape, at a '\': a single escaped character.
  Result<char32_t> ParseEscape() {
    const size_t start = i_;
    ++i_;
    if (i_ >= s_.size()) {
      return SyntaxError("trailing backslash at end of expression", "");
    }
    auto invalid = [&] {
      return SyntaxError("invalid escape sequence", s_.substr(start, i_ - start));
    };
    const char32_t c = BERTH_TRY(NextRune());
    if (c < 0x80 && !IsAsciiAlnum(c)) {
      return c;
    }
    auto is_octal = [&] {
      return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7';
    };
    switch (c) {
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        // A single non-zero digit would be a backreference, which Go does not support.
        if (!is_octal()) {
          return invalid();
        }
        [[fallthrough]];
      case '0': {
        char32_t r = c - '0';
        for (int k = 1; k < 3 && is_octal(); ++k, ++i_) {
          r = r * 8 + static_cast<char32_t>(s_[i_] - '0');
        }
        return r;
      }
      case 'x': {
        if (i_ >= s_.size()) {
          return invalid();
        }
        char32_t c2 = BERTH_TRY(NextRune());
        if (c2 == '{') {
          int nhex = 0;
          char32_t r = 0;
          for (;;) {
            if (i_ >= s_.size()) {
              return invalid();
            }
            char32_t d = BERTH_TRY(NextRune());
            if (d == '}') {
              break;
            }
            int v = Unhex(d);
            if (v < 0) {
              return invalid();
            }
            r = r * 16 + static_cast<char32_t>(v);
            if (r > kMaxRune) {
              return invalid();
            }
            ++nhex;
          }
          if (nhex == 0) {
            return invalid();
          }
          return r;
        }
        int x = Unhex(c2);
        int y = -1;
        if (i_ < s_.size()) {
          y = Unhex(BERTH_TRY(NextRune()));
        }
        if (x < 0 || y < 0) {
          return invalid();
        }
        return static_cast<char32_t>(x * 16 + y);
      }
      case 'a':
        return U'\a';
      case 'f':
        return U'\f';
      case 'n':
        return U'\n';
      case 'r':
        return U'\r';
      case 't':
        return U'\t';
      case 'v':
        return U'\v';
      default:
        return invalid();
    }
  }

  Result<char32_t> ParseClassChar(size_t class_start) {
    if (i_ >= s_.size()) {
      return SyntaxError("missing closing ]", s_.substr(class_start));
    }
    if (s_[i_] == '\\') {
      return ParseEscape();
    }
    return NextRune();
  }

  // Go's parseClass, at a '['.
  Result<int> ParseBracket() {
    const size_t class_start = i_;
    ++i_;
    bool negate = false;
    if (i_ < s_.size() && s_[i_] == '^') {
      negate = true;
      ++i_;
    }
    Ranges ranges;
    // ']' is an ordinary character in the first position.
    for (bool first = true; i_ >= s_.size() || s_[i_] != ']' || first; first = false) {
      if (s_.size() - std::min(i_, s_.size()) > 2 && s_[i_] == '[' && s_[i_ + 1] == ':') {
        size_t end = s_.find(":]", i_ + 2);
        if (end != std::string_view::npos) {
          std::string_view name = s_.substr(i_, end + 2 - i_);
          if (!AppendPosixClass(name, &ranges)) {
            return SyntaxError("invalid character class range", name);
          }
          i_ = end + 2;
          continue;
        }
      }
      if (i_ + 1 < s_.size() && s_[i_] == '\\') {
        if (s_[i_ + 1] == 'p' || s_[i_ + 1] == 'P') {
          return SyntaxError("Unicode classes are not supported", s_.substr(i_));
        }
        if (AppendPerlClass(s_[i_ + 1], &ranges)) {
          i_ += 2;
          continue;
        }
      }
      const size_t range_start = i_;
      char32_t lo = BERTH_TRY(ParseClassChar(class_start));
      char32_t hi = lo;
      if (i_ + 1 < s_.size() && s_[i_] == '-' && s_[i_ + 1] != ']') {
        ++i_;
        hi = BERTH_TRY(ParseClassChar(class_start));
        if (hi < lo) {
          return SyntaxError("invalid character class range",
                             s_.substr(range_start, i_ - range_start));
        }
      }
      ranges.emplace_back(lo, hi);
    }
    ++i_;  // The closing ']'.
    if (negate) {
      ranges = Negate(Normalize(std::move(ranges)));
    }
    return AddClass(ranges);
  }

  uint32_t Emit(Regexp::Inst inst) {
    if (re_.program_.size() >= Regexp::kMaxInstructions) {
      too_large_ = true;
      return 0;
    }
    re_.program_.push_back(inst);
    return static_cast<uint32_t>(re_.program_.size() - 1);
  }

  // Emits code for `node` that continues at `next`; returns its entry point. Code is built
  // back to front so every instruction's successor already exists.
  uint32_t CompileNode(int node, uint32_t next) {
    if (too_large_) {
      return 0;
    }
    const Node& nd = nodes_[node];
    switch (nd.kind) {
      case Kind::kEmpty:
        return next;
      case Kind::kClass:
        return Emit({.op = Regexp::Op::kRune, .out = next, .char_class = nd.char_class});
      case Kind::kAssert:
        return Emit({.op = Regexp::Op::kAssert, .assertion = nd.assertion, .out = next});
      case Kind::kConcat: {
        uint32_t entry = next;
        for (auto it = nd.subs.rbegin(); it != nd.subs.rend(); ++it) {
          entry = CompileNode(*it, entry);
        }
        return entry;
      }
      case Kind::kAlternate: {
        uint32_t entry = CompileNode(nd.subs.back(), next);
        for (size_t k = nd.subs.size() - 1; k-- > 0;) {
          uint32_t branch = CompileNode(nd.subs[k], next);
          entry = Emit({.op = Regexp::Op::kSplit, .out = branch, .out1 = entry});
        }
        return entry;
      }
      case Kind::kStar:
        return CompileRepeat(nd.subs[0], 0, -1, next);
      case Kind::kPlus:
        return CompileRepeat(nd.subs[0], 1, -1, next);
      case Kind::kQuest:
        return CompileRepeat(nd.subs[0], 0, 1, next);
      case Kind::kRepeat:
        return CompileRepeat(nd.subs[0], nd.min, nd.max, next);
    }
    return next;
  }

  // sub{min,max}; max == -1 means unbounded.
  uint32_t CompileRepeat(int sub, int min, int max, uint32_t next) {
    uint32_t entry = next;
    int copies = min;
    if (max < 0) {
      // A loop: split -> (sub -> split) | next.
      uint32_t loop = Emit({.op = Regexp::Op::kSplit});
      uint32_t body = CompileNode(sub, loop);
      if (too_large_) {
        return 0;
      }
      re_.program_[loop].out = body;
      re_.program_[loop].out1 = next;
      if (min == 0) {
        entry = loop;
      } else {
        entry = body;
        copies = min - 1;
      }
    } else {
      for (int k = 0; k < max - min && !too_large_; ++k) {
        uint32_t body = CompileNode(sub, entry);
        entry = Emit({.op = Regexp::Op::kSplit, .out = body, .out1 = next});
      }
    }
    for (int k = 0; k < copies && !too_large_; ++k) {
      entry = CompileNode(sub, entry);
    }
    return entry;
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  bool too_large_ = false;
  std::vector<Node> nodes_;
  std::map<Ranges, uint32_t> class_index_;
  Regexp re_;
};

Result<Regexp> Regexp::Compile(std::string_view expr) {
  return RegexpCompiler(expr).Run();
}

size_t Regexp::cost() const {
  size_t cost = program_.size();
  for (const CharClass& cls : classes_) {
    cost += cls.ranges.size() + 1;
  }
  return cost;
}

bool Regexp::AssertionHolds(Assertion a, size_t pos, size_t size, int32_t prev,
                            int32_t next) const {
  switch (a) {
    case Assertion::kBeginText:
      return pos == 0;
    case Assertion::kEndText:
      return pos == size;
    case Assertion::kWordBoundary:
      return IsWordChar(prev) != IsWordChar(next);
    case Assertion::kNoWordBoundary:
      return IsWordChar(prev) == IsWordChar(next);
  }
  return false;
}

bool Regexp::Match(std::string_view text) const {
  // Breadth-first simulation of the NFA: `ready` holds the rune-consuming instructions live
  // at the current position, `pending` the successors reached by consuming the current rune.
  // The buffers are reused across calls on a thread; `visited` holds generation stamps that
  // only ever grow, so stamps left by earlier calls (of any program) never look current.
  struct Scratch {
    std::vector<uint64_t> visited;
    uint64_t generation = 0;
    std::vector<uint32_t> stack;
    std::vector<uint32_t> ready;
    std::vector<uint32_t> pending;
  };
  thread_local Scratch scratch;
  if (scratch.visited.size() < program_.size()) {
    scratch.visited.resize(program_.size(), 0);
  }
  std::vector<uint64_t>& visited = scratch.visited;
  uint64_t& generation = scratch.generation;
  std::vector<uint32_t>& stack = scratch.stack;
  std::vector<uint32_t>& ready = scratch.ready;
  std::vector<uint32_t>& pending = scratch.pending;
  pending.clear();
  size_t pos = 0;
  int32_t prev = -1;
  for (;;) {
    int32_t cur = -1;
    size_t width = 0;
    if (pos < text.size()) {
      DecodedRune d = DecodeRune(text.substr(pos));
      cur = static_cast<int32_t>(d.rune);
      width = d.width;
    }
    ++generation;
    ready.clear();
    stack.assign(pending.begin(), pending.end());
    if (pos == 0 || !anchored_) {
      stack.push_back(start_);
    }
    while (!stack.empty()) {
      uint32_t pc = stack.back();
      stack.pop_back();
      if (visited[pc] == generation) {
        continue;
      }
      visited[pc] = generation;
      const Inst& inst = program_[pc];
      switch (inst.op) {
        case Op::kMatch:
          return true;
        case Op::kRune:
          ready.push_back(pc);
          break;
        case Op::kSplit:
          stack.push_back(inst.out1);
          stack.push_back(inst.out);
          break;
        case Op::kAssert:
          if (AssertionHolds(inst.assertion, pos, text.size(), prev, cur)) {
            stack.push_back(inst.out);
          }
          break;
      }
    }
    if (cur < 0) {
      return false;
    }
    pending.clear();
    for (uint32_t pc : ready) {
      if (classes_[program_[pc].char_class].Contains(static_cast<char32_t>(cur))) {
        pending.push_back(program_[pc].out);
      }
    }
    if (pending.empty() && anchored_) {
      return false;
    }
    prev = cur;
    pos += width;
  }
}

}  // namespace berth::patternmatcher::internal
