// LocalStore: the content Store on a local directory.
//
//   <root>/blobs/sha256/<hex>      committed blobs, read-only files
//   <root>/ingest/<sha256(ref)>/   one per ingest: data, ref (the ref's name), expected
//   <root>/leases/<id>             leases (see local_lease_manager.h)
//   <root>/trash/                  what GC removed, deleted later by EmptyTrash()
//   <root>/gc.lock, leases.lock    flock(2) lock files
//
// Ingest: a writer holds an exclusive flock on its ingest directory (a crashed writer's lock
// goes with its process; GC and Abort take the same lock), writes and hashes in one pass, and
// commits by verify, fsync, then renameat2(RENAME_NOREPLACE) into blobs/ and an fsync of that
// directory (so a committed blob survives a crash) - so a blob path only ever names complete,
// verified content, and of two racing writers exactly one commits while the other sees
// AlreadyExists.
//
// GC holds `gc.lock` exclusively while it marks (roots + lease resources) and sweeps; commits
// that add to a lease and LeaseManager::AddResource hold it shared. Swept blobs and stale
// ingests are renamed into trash/ rather than deleted: on this hardware's journal-less ext4,
// deleting many files right before an unpack slows the unpack 12x (DESIGN.md, measured facts),
// so the actual deletion is left to EmptyTrash(), which the owner runs when idle.
//
// Several LocalStore instances (in one process or several) may share a root.
#pragma once

#include <memory>
#include <string>

#include "content/local_lease_manager.h"
#include "content/store.h"

namespace berth::content {

class LocalStore final : public Store {
 public:
  // Opens the store at `root`, creating the layout if needed.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& root);

  Result<content::Info> Info(const Context& ctx, const Digest& digest) override;
  Result<bool> Exists(const Context& ctx, const Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> OpenReader(const Context& ctx, const Digest& digest) override;
  Result<std::unique_ptr<Writer>> OpenWriter(const Context& ctx,
                                             const WriterOptions& options) override;
  Result<std::vector<Status>> ListIngests(const Context& ctx) override;
  Result<> Abort(const Context& ctx, const std::string& ref) override;
  Result<> Walk(const Context& ctx,
                const std::function<Result<>(const content::Info&)>& fn) override;
  Result<> Delete(const Context& ctx, const Digest& digest) override;
  LeaseManager& leases() override { return *leases_; }
  Result<GcStats> GarbageCollect(const Context& ctx, const std::set<Digest>& roots,
                                 const GcOptions& options = {}) override;

  // Deletes everything GarbageCollect() moved to the trash; returns how many entries it removed.
  Result<size_t> EmptyTrash(const Context& ctx);

  const std::string& root() const { return root_; }
  // Where the blob `digest` lives (whether or not it exists).
  std::string BlobPath(const Digest& digest) const;

 private:
  explicit LocalStore(std::string root);
  Result<std::string> ValidatedBlobPath(const Digest& digest) const;
  std::string IngestDir(const std::string& ref) const;
  // A fresh name in the trash for `name`.
  std::string TrashPath(const std::string& name) const;
  Result<size_t> CollectIngests(const Context& ctx, std::chrono::seconds max_age);

  std::string root_;
  std::string blobs_dir_;
  std::string ingest_dir_;
  std::string trash_dir_;
  std::string gc_lock_path_;
  std::unique_ptr<LocalLeaseManager> leases_;

  friend class LocalWriter;
};

}  // namespace berth::content
