// Helpers for the oci tests: scratch directories, running tools, and a tiny but real image.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/blob_source.h"
#include "oci/image.h"

namespace berth::oci::test {

// A fresh directory under the test's temporary directory, removed with everything in it on
// destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string Join(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh, capturing its output.
CommandResult RunCommand(const std::string& command);
// Whether `program` is on PATH.
bool HaveTool(const std::string& program);

// A single-platform image whose blobs sit in a MemoryBlobSource.
struct TinyImage {
  Descriptor manifest;
  Descriptor config;
  std::vector<Descriptor> layers;
  ImageConfig config_value;
  std::string layer_tar;  // the uncompressed layer
};

// Builds a valid one-layer linux image: the layer holds `files` (path -> content; parent
// directories are created) packed with the system tar and gzip, the config names its diff ID,
// and the OCI manifest (or Docker schema 2 with `docker_media_types`) ties them together.
// `scratch` is a directory the helper may use for its work files.
Result<TinyImage> BuildTinyImage(MemoryBlobSource& blobs, const std::string& scratch,
                                 const std::vector<std::pair<std::string, std::string>>& files,
                                 std::string_view architecture = "amd64",
                                 bool docker_media_types = false);

}  // namespace berth::oci::test
