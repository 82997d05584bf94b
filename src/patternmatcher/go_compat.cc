#include "patternmatcher/go_compat.h"

#include <array>

namespace berth::patternmatcher::internal {
namespace {

bool IsContinuation(unsigned char b, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
  return b >= lo && b <= hi;
}

// Consumes one class character of a filepath.Match pattern (Go's getEsc): an optionally
// escaped, valid UTF-8 rune that is not an unescaped '-' or ']' and is not the pattern's end.
bool ConsumeClassChar(std::string_view* chunk) {
  std::string_view& c = *chunk;
  if (c.empty() || c[0] == '-' || c[0] == ']') {
    return false;
  }
  if (c[0] == '\\') {
    c.remove_prefix(1);
    if (c.empty()) {
      return false;
    }
  }
  DecodedRune d = DecodeRune(c);
  if (d.rune == kRuneError && d.width == 1) {
    return false;
  }
  c.remove_prefix(d.width);
  return !c.empty();
}

// Checks one star-free chunk of a filepath.Match pattern (Go's matchChunk, syntax only).
bool IsValidChunk(std::string_view c) {
  while (!c.empty()) {
    switch (c[0]) {
      case '[': {
        c.remove_prefix(1);
        if (!c.empty() && c[0] == '^') {
          c.remove_prefix(1);
        }
        for (int nrange = 0;; ++nrange) {
          if (!c.empty() && c[0] == ']' && nrange > 0) {
            c.remove_prefix(1);
            break;
          }
          if (!ConsumeClassChar(&c)) {
            return false;
          }
          if (c[0] == '-') {
            c.remove_prefix(1);
            if (!ConsumeClassChar(&c)) {
              return false;
            }
          }
        }
        break;
      }
      case '\\':
        c.remove_prefix(1);
        if (c.empty()) {
          return false;
        }
        c.remove_prefix(1);
        break;
      default:
        c.remove_prefix(1);
        break;
    }
  }
  return true;
}

// The UTF-8 encodings of the non-ASCII characters unicode.IsSpace accepts.
constexpr std::array<std::string_view, 19> kWideSpaces = {
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81",
    "\xE2\x80\x82", "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86",
    "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8",
    "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",
};

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Length of the white-space character `s` starts (front) or ends (back) with, or 0.
size_t SpaceLength(std::string_view s, bool front) {
  if (s.empty()) {
    return 0;
  }
  if (IsAsciiSpace(front ? s.front() : s.back())) {
    return 1;
  }
  auto matches = [&](std::string_view enc) {
    return front ? s.starts_with(enc) : s.ends_with(enc);
  };
  for (std::string_view enc : kWideSpaces) {
    if (matches(enc)) {
      return enc.size();
    }
  }
  return 0;
}

}  // namespace

DecodedRune DecodeRune(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) {
    return {b0, 1};
  }
  auto at = [&](size_t i) {
    return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
  };
  constexpr DecodedRune kInvalid = {kRuneError, 1};
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!IsContinuation(at(1))) {
      return kInvalid;
    }
    return {static_cast<char32_t>((b0 & 0x1F) << 6 | (at(1) & 0x3F)), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;
    if (!IsContinuation(at(1), lo, hi) || !IsContinuation(at(2))) {
      return kInvalid;
    }
    return {static_cast<char32_t>((b0 & 0x0F) << 12 | (at(1) & 0x3F) << 6 | (at(2) & 0x3F)), 3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (!IsContinuation(at(1), lo, hi) || !IsContinuation(at(2)) || !IsContinuation(at(3))) {
      return kInvalid;
    }
    return {static_cast<char32_t>((b0 & 0x07) << 18 | (at(1) & 0x3F) << 12 | (at(2) & 0x3F) << 6 |
                                  (at(3) & 0x3F)),
            4};
  }
  return kInvalid;
}

void AppendUtf8(char32_t r, std::string* out) {
  if (r > kMaxRune || (r >= 0xD800 && r <= 0xDFFF)) {
    r = kRuneError;
  }
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
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
    if (path[r] == '/') {
      ++r;
    } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
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

std::string_view TrimSpace(std::string_view s) {
  while (size_t len = SpaceLength(s, /*front=*/true)) {
    s.remove_prefix(len);
  }
  while (size_t len = SpaceLength(s, /*front=*/false)) {
    s.remove_suffix(len);
  }
  return s;
}

bool IsValidGlob(std::string_view pattern) {
  std::string_view p = pattern;
  while (!p.empty()) {
    while (!p.empty() && p[0] == '*') {
      p.remove_prefix(1);
    }
    // A chunk runs to the next '*' outside a bracket expression (Go's scanChunk).
    bool in_range = false;
    size_t i = 0;
    for (; i < p.size(); ++i) {
      char c = p[i];
      if (c == '\\') {
        if (i + 1 < p.size()) {
          ++i;
        }
      } else if (c == '[') {
        in_range = true;
      } else if (c == ']') {
        in_range = false;
      } else if (c == '*' && !in_range) {
        break;
      }
    }
    if (!IsValidChunk(p.substr(0, i))) {
      return false;
    }
    p.remove_prefix(i);
  }
  return true;
}

}  // namespace berth::patternmatcher::internal
