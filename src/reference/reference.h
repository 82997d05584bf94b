// Image references parsed the way Docker does: "busybox" is
// "docker.io/library/busybox:latest"; "localhost:5000/app:v1", "ghcr.io/o/r@sha256:...".
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::reference {

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when only a digest was given
  std::string digest;  // "sha256:..." or ""

  // "docker.io/library/busybox:latest", with "@digest" when present.
  std::string String() const;
  // "docker.io/library/busybox" (domain and path only).
  std::string Name() const { return domain + "/" + path; }
  // The short form Docker prints: "busybox:latest", "localhost:5000/app:v1".
  std::string Familiar() const;
};

// Parses and normalises a reference. A reference with neither tag nor digest gets ":latest".
// InvalidArgument names what is wrong: upper-case repository, empty path, bad tag or digest.
Result<Reference> ParseNormalized(std::string_view text);

}  // namespace berth::reference
