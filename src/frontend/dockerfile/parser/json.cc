// A JSON reader that agrees with Go's encoding/json on what is valid, so that the parser falls
// back from exec form to shell form on exactly the inputs BuildKit does.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/gotext.h"
#include "frontend/dockerfile/parser/internal.h"

namespace berth::frontend::dockerfile::parser::internal {
namespace {

using gotext::AppendRune;
using gotext::DecodedRune;
using gotext::DecodeRune;
using gotext::kRuneError;

// encoding/json refuses documents nested deeper than this.
constexpr size_t kMaxDepth = 10000;

// The smallest decimal that rounds to +Inf as a float64: 2^1024 - 2^970, halfway between the
// largest finite float64 and 2^1024 (round-half-to-even goes up from the odd largest mantissa).
constexpr std::string_view kFloat64OverflowDigits =
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977"
    "587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845"
    "817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559"
    "699508093042880177904174497792";

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsDecimal(char c) {
  return c >= '0' && c <= '9';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Reads the four hex digits of a `\uXXXX` escape starting at text[pos] (the backslash);
// returns -1 if there is no such escape there.
int32_t ReadU4(std::string_view text, size_t pos) {
  if (pos + 6 > text.size() || text[pos] != '\\' || text[pos + 1] != 'u') {
    return -1;
  }
  int32_t value = 0;
  for (size_t k = pos + 2; k < pos + 6; ++k) {
    int digit = HexValue(text[k]);
    if (digit < 0) {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

// Decodes the body of a string literal that has already been validated.
std::string Unquote(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == '\\') {
      const char kind = body[i + 1];
      switch (kind) {
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto rune = static_cast<char32_t>(ReadU4(body, i));
          i += 6;
          if (rune >= 0xD800 && rune < 0xE000) {
            // A high surrogate followed by an escaped low surrogate is one code point; any
            // other surrogate is replaced and what follows is decoded on its own.
            int32_t low = ReadU4(body, i);
            if (rune < 0xDC00 && low >= 0xDC00 && low < 0xE000) {
              rune = 0x10000 + ((rune - 0xD800) << 10) + (static_cast<char32_t>(low) - 0xDC00);
              i += 6;
            } else {
              rune = kRuneError;
            }
          }
          AppendRune(&out, rune);
          continue;
        }
        default:  // '"', '\\', '/'
          out.push_back(kind);
          break;
      }
      i += 2;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    DecodedRune r = DecodeRune(body, i);
    if (r.rune == kRuneError && r.width == 1) {
      AppendRune(&out, kRuneError);
    } else {
      out.append(body.substr(i, r.width));
    }
    i += r.width;
  }
  return out;
}

// Whether the number literal text[begin, end) overflows a float64 (magnitude at least
// kFloat64OverflowDigits). Underflow is not an error in Go.
bool OverflowsFloat64(std::string_view number) {
  size_t i = 0;
  if (number[i] == '-') {
    ++i;
  }
  std::string digits;      // significant digits, leading zeros dropped
  int64_t exponent10 = 0;  // value = 0.digits * 10^exponent10
  bool in_fraction = false;
  for (; i < number.size() && number[i] != 'e' && number[i] != 'E'; ++i) {
    if (number[i] == '.') {
      in_fraction = true;
      continue;
    }
    if (digits.empty() && number[i] == '0') {
      if (in_fraction) {
        --exponent10;
      }
      continue;
    }
    digits.push_back(number[i]);
    if (!in_fraction) {
      ++exponent10;
    }
  }
  if (digits.empty()) {
    return false;  // zero
  }
  if (i < number.size()) {
    ++i;  // 'e'
    bool negative = false;
    if (number[i] == '+' || number[i] == '-') {
      negative = number[i] == '-';
      ++i;
    }
    int64_t e = 0;
    for (; i < number.size(); ++i) {
      e = std::min<int64_t>(e * 10 + (number[i] - '0'), int64_t{1} << 40);
    }
    exponent10 += negative ? -e : e;
  }
  const auto threshold_exponent = static_cast<int64_t>(kFloat64OverflowDigits.size());
  if (exponent10 != threshold_exponent) {
    return exponent10 > threshold_exponent;
  }
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
  }
  return digits.compare(kFloat64OverflowDigits) >= 0;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::optional<JsonDocument> Read() {
    SkipSpace();
    if (pos_ >= text_.size()) {
      return std::nullopt;
    }
    if (text_[pos_] == '[') {
      doc_.kind = JsonDocument::Kind::kArray;
    } else if (text_[pos_] == '{') {
      doc_.kind = JsonDocument::Kind::kObject;
    }
    if (!ReadValues()) {
      return std::nullopt;
    }
    SkipSpace();
    if (pos_ != text_.size()) {
      return std::nullopt;
    }
    return std::move(doc_);
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && IsJsonSpace(text_[pos_])) {
      ++pos_;
    }
  }

  // Reads one string literal at pos_; sets *body to the text between the quotes.
  bool ReadString(std::string_view* body) {
    const size_t start = ++pos_;
    while (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        *body = text_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) {
          return false;
        }
        const char kind = text_[pos_ + 1];
        if (kind == 'u') {
          if (ReadU4(text_, pos_) < 0) {
            return false;
          }
          pos_ += 6;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(kind) == std::string_view::npos) {
          return false;
        }
        pos_ += 2;
        continue;
      }
      ++pos_;
    }
    return false;
  }

  bool ReadLiteral(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool ReadNumber() {
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') {
      ++pos_;
    }
    if (pos_ >= text_.size() || !IsDecimal(text_[pos_])) {
      return false;
    }
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && IsDecimal(text_[pos_])) {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !IsDecimal(text_[pos_])) {
        return false;
      }
      while (pos_ < text_.size() && IsDecimal(text_[pos_])) {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (pos_ >= text_.size() || !IsDecimal(text_[pos_])) {
        return false;
      }
      while (pos_ < text_.size() && IsDecimal(text_[pos_])) {
        ++pos_;
      }
    }
    if (OverflowsFloat64(text_.substr(start, pos_ - start))) {
      doc_.number_overflow = true;
    }
    return true;
  }

  // Reads an object key and its colon; leaves pos_ at the member's value.
  bool ReadKey(std::string_view* key) {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '"' || !ReadString(key)) {
      return false;
    }
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != ':') {
      return false;
    }
    ++pos_;
    return true;
  }

  // Records a completed value that sits directly in the top-level container.
  void Record(std::string_view key, const std::optional<std::string_view>& string_body) {
    std::optional<std::string> text;
    if (string_body) {
      text = Unquote(*string_body);
    }
    if (doc_.kind == JsonDocument::Kind::kArray) {
      doc_.elements.push_back(std::move(text));
    } else {
      doc_.members.emplace_back(Unquote(key), std::move(text));
    }
  }

  // Reads the top-level value with an explicit stack of open containers instead of recursion.
  bool ReadValues() {
    std::vector<char> open;  // '[' or '{' for each open container
    std::string_view key;    // key of the current member of the top-level object
    for (;;) {
      // Expect a value.
      SkipSpace();
      if (pos_ >= text_.size()) {
        return false;
      }
      std::optional<std::string_view> string_body;
      const char c = text_[pos_];
      if (c == '[' || c == '{') {
        open.push_back(c);
        if (open.size() > kMaxDepth) {
          return false;
        }
        ++pos_;
        SkipSpace();
        const char close = c == '[' ? ']' : '}';
        if (pos_ < text_.size() && text_[pos_] == close) {
          ++pos_;
          open.pop_back();
        } else {
          if (c == '{') {
            std::string_view member_key;
            if (!ReadKey(&member_key)) {
              return false;
            }
            if (open.size() == 1) {
              key = member_key;
            }
          }
          continue;
        }
      } else if (c == '"') {
        std::string_view body;
        if (!ReadString(&body)) {
          return false;
        }
        string_body = body;
      } else if (c == 't') {
        if (!ReadLiteral("true")) {
          return false;
        }
      } else if (c == 'f') {
        if (!ReadLiteral("false")) {
          return false;
        }
      } else if (c == 'n') {
        if (!ReadLiteral("null")) {
          return false;
        }
      } else if (!ReadNumber()) {
        return false;
      }
      // A value is complete; close containers that end here.
      for (;;) {
        if (open.empty()) {
          return true;
        }
        if (open.size() == 1) {
          Record(key, string_body);
        }
        string_body.reset();
        SkipSpace();
        if (pos_ >= text_.size()) {
          return false;
        }
        const char close = open.back() == '[' ? ']' : '}';
        if (text_[pos_] == close) {
          ++pos_;
          open.pop_back();
          continue;
        }
        if (text_[pos_] != ',') {
          return false;
        }
        ++pos_;
        if (open.back() == '{') {
          std::string_view member_key;
          if (!ReadKey(&member_key)) {
            return false;
          }
          if (open.size() == 1) {
            key = member_key;
          }
        }
        break;
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  JsonDocument doc_;
};

}  // namespace

std::optional<JsonDocument> ParseJson(std::string_view text) {
  return Reader(text).Read();
}

}  // namespace berth::frontend::dockerfile::parser::internal
