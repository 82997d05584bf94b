// FileStore: the image name store as one small JSON file per name.
//
//   <dir>/<sha256 of the name>.json   {"name":..., "target":{descriptor}, "createdAt":..., ...}
//   <dir>/lock                        flock(2): shared for Put/Delete, exclusive for GC
//
// Why a file per name rather than one index file: a Put or Delete is then one atomic rename or
// unlink that never rewrites the other names, so writers of different names (a build tagging
// its result while a pull stores another image) neither contend nor can lose each other's
// updates, and a crash mid-write leaves at worst a temporary file beside intact records. The
// file name is a hash because references hold '/' and ':'. The lock exists only for garbage
// collection: GC must see every name that protects blobs, so it excludes Puts while it lists
// the names and sweeps; a Put that waits for it still holds its caller's lease.
//
// SQLite replaces this once the metadata store lands; the Store interface stays.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "content/store.h"
#include "images/store.h"

namespace berth::images {

class FileStore final : public Store {
 public:
  // Opens the store in `dir` (created if needed). `content` holds the blobs and must outlive
  // the store.
  static Result<std::unique_ptr<FileStore>> Open(const std::string& dir, content::Store& content);

  Result<Image> Put(const Context& ctx, std::string_view name,
                    const oci::Descriptor& target) override;
  Result<Image> Get(const Context& ctx, std::string_view name) override;
  Result<std::vector<Image>> List(const Context& ctx) override;
  Result<content::GcStats> Delete(const Context& ctx, std::string_view name) override;
  using Store::GarbageCollect;
  Result<content::GcStats> GarbageCollect(const Context& ctx,
                                          const std::set<digest::Digest>& extra_roots) override;

  const std::string& dir() const { return dir_; }

 private:
  FileStore(std::string dir, content::Store& content) : dir_(std::move(dir)), content_(content) {}
  std::string PathOf(const std::string& normalized_name) const;
  Result<std::vector<Image>> ListUnlocked(const Context& ctx);

  std::string dir_;
  content::Store& content_;
};

}  // namespace berth::images
