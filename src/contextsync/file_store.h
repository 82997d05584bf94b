// FileStore: the builder's per-project cache of context file contents, addressed by SHA-256,
// the server half of an incremental context sync (see contextsync.h).
//
// Layout under the root (one root per project; the caller picks it):
//   blobs/<hex>          a file's content, mode 0644
//   blobs/<hex>.<mode>   the same content with another mode (e.g. "<hex>.0755"), made on first use,
//                        because hardlinks share their mode
//   tmp/                 ingests in progress (O_TMPFILE where the file system has it, so that a
//                        killed server leaves nothing behind)
//   usage                last use of each blob, for Prune
//
// Ingest is atomic: bytes go to a temporary file, the digest and size are checked on Close(),
// and only then is the file linked under its name. Two concurrent ingests of the same content
// both succeed (the second finds the blob there: AlreadyExists counts as success).
//
// Materialize writes a manifest's tree into an empty directory, hardlinking the blobs when the
// directory is on the same file system (copying otherwise). Materialized files share their
// inode with the store: the tree is build input, to be read, never written.
//
// Thread-safety: all methods may be called concurrently, from several threads and processes
// sharing a root. Prune may remove a blob that a concurrent sync has just been told the store
// holds; it spares blobs used within `protect_recent` to make that a non-issue in practice.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "contextsync/manifest.h"
#include "digest/digest.h"

namespace berth::contextsync {

class FileStore;

// Receives one blob. Write() the content, then Close() to verify and commit it. Destroying the
// writer without a successful Close() discards everything written. The FileStore must outlive
// the writer. Not thread-safe.
class IngestWriter final : public Writer {
 public:
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;
  IngestWriter(IngestWriter&&) = delete;
  IngestWriter& operator=(IngestWriter&&) = delete;
  ~IngestWriter() override;

  // DataLoss once more bytes arrive than the expected size.
  Result<> Write(std::string_view data) override;
  // Checks size and digest (DataLoss on a mismatch, and the bytes are dropped), then links the
  // blob into the store. Succeeds when the blob already existed.
  Result<> Close() override;

  // After Close(): whether the store had the blob already.
  bool existed() const { return existed_; }

 private:
  friend class FileStore;
  IngestWriter(FileStore& store, digest::Digest expected, uint64_t size, UniqueFd fd,
               std::string tmp_path);

  FileStore& store_;
  digest::Digest expected_;
  uint64_t size_;
  UniqueFd fd_;
  std::string tmp_path_;  // named temporary file, when O_TMPFILE was not available
  digest::Sha256 hash_;
  bool closed_ = false;
  bool existed_ = false;
};

struct MaterializeStats {
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t linked = 0;  // files hardlinked from the store
  uint64_t copied = 0;  // files copied (other file system, same content twice in one tree, ...)
  uint64_t empty = 0;   // empty files created
};

struct PruneStats {
  uint64_t removed_blobs = 0;
  uint64_t removed_bytes = 0;
  uint64_t kept_blobs = 0;
  uint64_t kept_bytes = 0;
};

class FileStore {
 public:
  struct Options {
    // fdatasync each blob before it is linked in, so that a power cut cannot leave a blob with
    // the right name and the wrong bytes (a killed process never can). Off by default: it costs
    // a disk flush per file (75 s for a first sync of 10,000 files on a virtual disk), and on
    // ext4/xfs a power cut leaves such a blob short, which Missing() detects and refetches.
    bool durable = false;
  };

  // Opens (creating as needed) the store at `root`.
  // Errors: the errno error of a directory that cannot be made.
  static Result<std::unique_ptr<FileStore>> Open(const std::string& root, Options options);
  static Result<std::unique_ptr<FileStore>> Open(const std::string& root) {
    return Open(root, Options{});
  }

  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;
  FileStore(FileStore&&) = delete;
  FileStore& operator=(FileStore&&) = delete;
  ~FileStore();

  const std::string& root() const { return root_; }

  // Whether the store holds `digest` (a sha256 digest).
  bool Has(const digest::Digest& digest) const;

  // The distinct digests of the manifest's non-empty files that the store lacks, in manifest
  // order. A blob whose size differs from the manifest's (a torn write after a power cut) is
  // removed and reported missing. Marks the others used.
  // Errors: InvalidArgument for a manifest ValidateManifest refuses.
  Result<std::vector<digest::Digest>> Missing(const Manifest& manifest);

  // Starts receiving a blob of `size` bytes that must hash to `expected`.
  // Errors: InvalidArgument for a digest other than sha256 or a size above kMaxFileSize.
  Result<std::unique_ptr<IngestWriter>> BeginIngest(const digest::Digest& expected, uint64_t size);

  // Writes the manifest's tree into `dest`, which must be an empty directory or not exist (its
  // parent must). Directories get their modes after their contents are in place.
  // On error `dest` may hold a partial tree; the caller removes it.
  // Errors: InvalidArgument for a bad manifest; FailedPrecondition when dest is not empty;
  // NotFound when a blob is missing (call Missing and send it first).
  Result<MaterializeStats> Materialize(const Context& ctx, const Manifest& manifest,
                                       const std::string& dest);

  // Removes least recently used blobs until the store holds at most `keep_bytes`, sparing
  // those used within `protect_recent`; also removes abandoned ingests older than an hour.
  Result<PruneStats> Prune(const Context& ctx, uint64_t keep_bytes,
                           std::chrono::seconds protect_recent = std::chrono::minutes(10));

  // Writes the last-use times to disk (Prune does it too). Use times only ever inform eviction:
  // losing them is harmless.
  Result<> SaveUsage();

 private:
  friend class IngestWriter;
  FileStore(std::string root, Options options, UniqueFd blobs, UniqueFd tmp, bool proc_fd);

  // A non-directory entry of a tree being materialized.
  struct Leaf {
    const Entry* entry;
    bool must_copy;  // its content and mode appeared before in the tree
  };

  void Touch(const std::string& hex);
  // Creates leaves[begin, end) beneath `root`, whose directories exist. Stops early (Cancelled)
  // once `stop` is set.
  Result<> PlaceLeaves(const Context& ctx, int root, const std::vector<Leaf>& leaves, size_t begin,
                       size_t end, const std::atomic<bool>& stop, MaterializeStats* stats);
  // Puts the content of file entry `e` at `name` in `dir_fd`: a hardlink to the store (returns
  // true) unless `must_copy` or the link fails across devices, else a copy (returns false).
  // Sets *cross_device on EXDEV so that later files go straight to copying.
  Result<bool> PlaceFile(int dir_fd, const std::string& name, const Entry& e, bool must_copy,
                         bool* cross_device);
  // The name of the blob `hex` with `mode` (of `size` bytes), made from the 0644 one if needed.
  Result<std::string> Variant(const std::string& hex, uint32_t mode, uint64_t size);

  std::string root_;
  Options options_;
  UniqueFd blobs_;
  UniqueFd tmp_;
  bool proc_fd_;  // /proc/self/fd works, so O_TMPFILE files can be linked in

  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> last_use_;  // hex -> Unix seconds
  bool usage_dirty_ = false;
  int64_t usage_saved_at_ = 0;
};

}  // namespace berth::contextsync
