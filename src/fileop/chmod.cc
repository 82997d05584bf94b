#include "fileop/chmod.h"

#include <sys/stat.h>

#include <string>

namespace berth::fileop {

namespace {

constexpr uint32_t kUser = 04700;
constexpr uint32_t kGroup = 02070;
constexpr uint32_t kOther = 01007;

uint32_t Spread(uint32_t rwx, uint32_t who) {
  // rwx in 0..7; copied into each class `who` covers.
  uint32_t out = 0;
  if (who & 0700) {
    out |= rwx << 6;
  }
  if (who & 0070) {
    out |= rwx << 3;
  }
  if (who & 0007) {
    out |= rwx;
  }
  return out;
}

}  // namespace

Result<ModeChange> ModeChange::Parse(std::string_view text) {
  auto bad = [&] {
    return Error::InvalidArgument("invalid chmod value: " + std::string(text));
  };
  if (text.empty()) {
    return bad();
  }
  ModeChange out;
  if (text.find_first_not_of("01234567") == std::string_view::npos) {
    if (text.size() > 5) {
      return bad();
    }
    out.octal_ = true;
    out.value_ = static_cast<uint32_t>(std::stoul(std::string(text), nullptr, 8));
    if (out.value_ > 07777) {
      return bad();
    }
    return out;
  }
  size_t pos = 0;
  while (true) {
    uint32_t who = 0;
    while (pos < text.size() &&
           std::string_view("ugoa").find(text[pos]) != std::string_view::npos) {
      switch (text[pos]) {
        case 'u':
          who |= kUser;
          break;
        case 'g':
          who |= kGroup;
          break;
        case 'o':
          who |= kOther;
          break;
        default:
          who |= kUser | kGroup | kOther;
          break;
      }
      ++pos;
    }
    bool implicit = who == 0;
    if (implicit) {
      who = kUser | kGroup | kOther;
    }
    if (pos >= text.size() || std::string_view("+-=").find(text[pos]) == std::string_view::npos) {
      return bad();
    }
    while (pos < text.size() && std::string_view("+-=").find(text[pos]) != std::string_view::npos) {
      Clause c;
      c.who = who;
      c.op = text[pos++];
      if (pos < text.size() && std::string_view("ugo").find(text[pos]) != std::string_view::npos) {
        c.copy_from = text[pos++];
      } else {
        while (pos < text.size() &&
               std::string_view("rwxXst").find(text[pos]) != std::string_view::npos) {
          switch (text[pos]) {
            case 'r':
              c.perm |= Spread(4, who);
              break;
            case 'w':
              c.perm |= Spread(2, who);
              break;
            case 'x':
              c.perm |= Spread(1, who);
              break;
            case 'X':
              c.cond_exec = true;
              break;
            case 's':
              c.perm |= who & (S_ISUID | S_ISGID);
              break;
            default:
              // Sticky only through 'o' or 'a' (chmod(1)).
              c.perm |= who & S_ISVTX;
              break;
          }
          ++pos;
        }
      }
      out.clauses_.push_back(c);
    }
    if (pos == text.size()) {
      break;
    }
    if (text[pos] != ',') {
      return bad();
    }
    ++pos;
  }
  return out;
}

uint32_t ModeChange::Apply(uint32_t mode) const {
  uint32_t perm = mode & 07777;
  if (octal_) {
    return value_;
  }
  for (const Clause& c : clauses_) {
    uint32_t bits = c.perm;
    if (c.cond_exec && (S_ISDIR(mode) || (perm & 0111) != 0)) {
      bits |= Spread(1, c.who);
    }
    if (c.copy_from != 0) {
      uint32_t src = c.copy_from == 'u'   ? (perm >> 6) & 7
                     : c.copy_from == 'g' ? (perm >> 3) & 7
                                          : perm & 7;
      bits |= Spread(src, c.who);
    }
    bits &= c.who;
    switch (c.op) {
      case '+':
        perm |= bits;
        break;
      case '-':
        perm &= ~bits;
        break;
      default:
        // '=' clears the classes named (keeping a directory's set-id bits, as chmod(1) does).
        perm &= ~(c.who & (S_ISDIR(mode) ? 01777u : 07777u));
        perm |= bits;
        break;
    }
  }
  return perm;
}

}  // namespace berth::fileop
