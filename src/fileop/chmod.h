// COPY --chmod values: octal ("0755", "755") or symbolic as chmod(1) writes them
// ("u+x,g-w", "a=rX", "go=u"), applied to a file's mode.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::fileop {

class ModeChange {
 public:
  // Errors: InvalidArgument naming `text` when it is neither octal (at most 07777) nor a valid
  // symbolic mode.
  static Result<ModeChange> Parse(std::string_view text);

  // The new permission bits (07777 incl. suid/sgid/sticky) for a file of st_mode `mode`
  // ('X' looks at the type and the execute bits).
  uint32_t Apply(uint32_t mode) const;

 private:
  struct Clause {
    uint32_t who = 0;  // mask of affected bits
    char op = '=';
    uint32_t perm = 0;       // bits from r, w, x, s, t
    bool cond_exec = false;  // X
    char copy_from = 0;      // 'u', 'g' or 'o', or 0
  };
  bool octal_ = false;
  uint32_t value_ = 0;
  std::vector<Clause> clauses_;
};

}  // namespace berth::fileop
