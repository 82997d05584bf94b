#include "patternmatcher/go_compat.h"

#include "base/gotext.h"

namespace berth::patternmatcher::internal {
namespace {

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
  gotext::DecodedRune d = gotext::DecodeRune(c);
  if (d.rune == gotext::kRuneError && d.width == 1) {
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

}  // namespace

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
