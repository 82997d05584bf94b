#include "base/gotext.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "base/unicode_tables.h"

namespace berth::gotext {
namespace {

bool InRanges(char32_t rune, const unicode_tables::CodePointRange* begin,
              const unicode_tables::CodePointRange* end) {
  const auto* it = std::upper_bound(
      begin, end, rune,
      [](char32_t r, const unicode_tables::CodePointRange& range) { return r < range.first; });
  return it != begin && rune <= std::prev(it)->last;
}

char32_t ToLowerRune(char32_t rune) {
  if (rune < 0x80) {
    return rune >= 'A' && rune <= 'Z' ? rune + ('a' - 'A') : rune;
  }
  const auto* begin = std::begin(unicode_tables::kToLower);
  const auto* end = std::end(unicode_tables::kToLower);
  const auto* it = std::upper_bound(
      begin, end, rune,
      [](char32_t r, const unicode_tables::CaseRun& run) { return r < run.first; });
  if (it == begin) {
    return rune;
  }
  const auto& run = *std::prev(it);
  if (rune > run.last || (rune - run.first) % static_cast<char32_t>(run.stride) != 0) {
    return rune;
  }
  return static_cast<char32_t>(static_cast<int>(rune) + run.delta);
}

bool IsContinuation(unsigned char b, unsigned char low = 0x80, unsigned char high = 0xBF) {
  return b >= low && b <= high;
}

}  // namespace

DecodedRune internal::DecodeMultiByteRune(std::string_view text, size_t pos) {
  auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[pos + k]);
  };
  const size_t avail = text.size() - pos;
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    return {b0, 1};
  }
  constexpr DecodedRune kInvalid{kRuneError, 1};
  if (b0 < 0xC2 || b0 > 0xF4) {
    return kInvalid;
  }
  if (b0 < 0xE0) {
    if (avail < 2 || !IsContinuation(byte(1))) {
      return kInvalid;
    }
    return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (byte(1) & 0x3F)), 2};
  }
  // The first continuation byte's range excludes overlong forms (E0, F0), surrogates (ED) and
  // code points above U+10FFFF (F4).
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (b0 == 0xE0) {
    low = 0xA0;
  } else if (b0 == 0xED) {
    high = 0x9F;
  } else if (b0 == 0xF0) {
    low = 0x90;
  } else if (b0 == 0xF4) {
    high = 0x8F;
  }
  if (avail < 2 || !IsContinuation(byte(1), low, high)) {
    return kInvalid;
  }
  if (b0 < 0xF0) {
    if (avail < 3 || !IsContinuation(byte(2))) {
      return kInvalid;
    }
    return {static_cast<char32_t>(((b0 & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F)),
            3};
  }
  if (avail < 4 || !IsContinuation(byte(2)) || !IsContinuation(byte(3))) {
    return kInvalid;
  }
  return {static_cast<char32_t>(((b0 & 0x07) << 18) | ((byte(1) & 0x3F) << 12) |
                                ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F)),
          4};
}

void AppendRune(std::string* out, char32_t rune) {
  if (rune > kMaxRune || (rune >= 0xD800 && rune <= 0xDFFF)) {
    rune = kRuneError;
  }
  if (rune < 0x80) {
    out->push_back(static_cast<char>(rune));
  } else if (rune < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (rune >> 6)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else if (rune < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (rune >> 12)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (rune >> 18)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  }
}

bool IsSpace(char32_t rune) {
  switch (rune) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return rune >= 0x2000 && rune <= 0x200A;
  }
}

bool IsLetter(char32_t rune) {
  if (rune < 0x80) {
    return (rune >= 'a' && rune <= 'z') || (rune >= 'A' && rune <= 'Z');
  }
  return InRanges(rune, std::begin(unicode_tables::kLetter), std::end(unicode_tables::kLetter));
}

bool IsDigit(char32_t rune) {
  if (rune < 0x80) {
    return rune >= '0' && rune <= '9';
  }
  return InRanges(rune, std::begin(unicode_tables::kDigit), std::end(unicode_tables::kDigit));
}

bool IsPrint(char32_t rune) {
  return InRanges(rune, std::begin(unicode_tables::kPrint), std::end(unicode_tables::kPrint));
}

std::string_view TrimLeftSpace(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    DecodedRune r = DecodeRune(text, pos);
    if (!IsSpace(r.rune)) {
      break;
    }
    pos += r.width;
  }
  return text.substr(pos);
}

std::string_view TrimRightSpace(std::string_view text) {
  // Decoding forwards finds the same rune boundaries as Go's backwards decoding for every
  // sequence that can be a space, and invalid bytes are never spaces either way.
  size_t keep = 0;
  for (size_t pos = 0; pos < text.size();) {
    DecodedRune r = DecodeRune(text, pos);
    pos += r.width;
    if (!IsSpace(r.rune)) {
      keep = pos;
    }
  }
  return text.substr(0, keep);
}

std::string_view TrimSpace(std::string_view text) {
  return TrimRightSpace(TrimLeftSpace(text));
}

std::string Quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  auto append_hex = [&](std::string_view prefix, uint32_t value, int digits) {
    out += prefix;
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
      out.push_back(kHex[(value >> shift) & 0xF]);
    }
  };
  for (size_t pos = 0; pos < text.size();) {
    DecodedRune r = DecodeRune(text, pos);
    pos += r.width;
    if (r.rune == kRuneError && r.width == 1) {
      append_hex("\\x", static_cast<unsigned char>(text[pos - 1]), 2);
      continue;
    }
    if (r.rune == '"' || r.rune == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r.rune));
      continue;
    }
    if (IsPrint(r.rune)) {
      out.append(text.substr(pos - r.width, r.width));
      continue;
    }
    switch (r.rune) {
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (r.rune < ' ' || r.rune == 0x7F) {
          append_hex("\\x", r.rune, 2);
        } else if (r.rune < 0x10000) {
          append_hex("\\u", r.rune, 4);
        } else {
          append_hex("\\U", r.rune, 8);
        }
        break;
    }
  }
  out.push_back('"');
  return out;
}

std::string ToLower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool ascii = std::all_of(text.begin(), text.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    for (char c : text) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    return out;
  }
  for (size_t pos = 0; pos < text.size();) {
    DecodedRune r = DecodeRune(text, pos);
    AppendRune(&out, ToLowerRune(r.rune));
    pos += r.width;
  }
  return out;
}

std::string CleanPath(std::string_view path) {
  if (path.empty()) {
    return ".";
  }
  const bool rooted = path[0] == '/';
  const size_t n = path.size();
  std::string out;
  out.reserve(n);
  size_t r = 0;
  size_t dotdot = 0;  // out[:dotdot] may not be backtracked over by "..".
  if (rooted) {
    out.push_back('/');
    r = 1;
    dotdot = 1;
  }
  while (r < n) {
    if (path[r] == '/' || (path[r] == '.' && (r + 1 == n || path[r + 1] == '/'))) {
      // An empty or "." element.
      ++r;
    } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        out.pop_back();
        while (out.size() > dotdot && out.back() != '/') {
          out.pop_back();
        }
        // Drop the separator that preceded the removed element too.
        if (out.size() > dotdot && out.back() == '/') {
          out.pop_back();
        }
      } else if (!rooted) {
        if (!out.empty()) {
          out.push_back('/');
        }
        out += "..";
        dotdot = out.size();
      }
    } else {
      if ((rooted && out.size() != 1) || (!rooted && !out.empty())) {
        out.push_back('/');
      }
      for (; r < n && path[r] != '/'; ++r) {
        out.push_back(path[r]);
      }
    }
  }
  if (out.empty()) {
    return ".";
  }
  return out;
}

std::string DirPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return ".";
  }
  return CleanPath(path.substr(0, slash + 1));
}

}  // namespace berth::gotext
