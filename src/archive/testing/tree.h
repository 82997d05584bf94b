// Test helpers for the archive component: temporary directories, canonical listings of a tree
// (to compare two trees in one assertion) and hand-built tars (including hostile ones).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::archive::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + rel.
  std::string operator/(std::string_view rel) const;

 private:
  std::string path_;
};

struct DescribeOptions {
  bool mtimes = true;  // include mtimes (whole seconds) of everything but symlinks
  bool owners = true;  // include uid:gid
  bool xattrs = true;  // include xattrs (trusted.overlay.* never)
};

// One line per entry below `root` (not `root` itself), sorted by path:
//   <path> <type> <mode> [uid:gid] [mtime] <content sha256 | symlink target | major,minor>
//   [xattrs] [hardlink=<first path of the same inode>]
// Two trees with the same listing hold the same files. Aborts the test binary on I/O errors.
std::string DescribeTree(const std::string& root, const DescribeOptions& options = {});

// Small file system helpers; each aborts with a message on failure.
void WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);
void MakeDir(const std::string& path, mode_t mode = 0755);
void Symlink(const std::string& target, const std::string& path);
void Hardlink(const std::string& existing, const std::string& path);
void SetXattr(const std::string& path, const std::string& key, std::string_view value);
void SetMtime(const std::string& path, int64_t seconds);
// Runs `command` with /bin/sh -c; returns its exit status (-1 if it did not exit normally).
int Shell(const std::string& command);
// Reads a file whole ("" if it does not exist).
std::string ReadFileOrEmpty(const std::string& path);

// Header fields of an entry TarBuilder writes.
struct EntryMeta {
  mode_t perm = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 1000000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Builds a tar in memory with libarchive, entry by entry, whatever the names and links say.
class TarBuilder {
 public:
  TarBuilder();
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;
  ~TarBuilder();

  using Meta = EntryMeta;

  TarBuilder& File(const std::string& name, std::string_view data, Meta meta = {});
  TarBuilder& Dir(const std::string& name, Meta meta = Dir755());
  TarBuilder& Symlink(const std::string& name, const std::string& target);
  TarBuilder& Hardlink(const std::string& name, const std::string& target);
  TarBuilder& Fifo(const std::string& name);
  TarBuilder& CharDevice(const std::string& name, unsigned major, unsigned minor);
  // An OCI whiteout entry for `dir`/`name` (".wh.<name>") and an opaque marker for `dir`.
  TarBuilder& Whiteout(const std::string& path);
  TarBuilder& Opaque(const std::string& dir);
  // Ends the archive and returns its bytes.
  std::string Finish();

  static Meta Dir755() {
    Meta m;
    m.perm = 0755;
    return m;
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::archive::testing
