// LocalLeaseManager: leases kept as one small text file per lease under `<root>/leases/`.
//
// Every change rewrites the lease's file atomically (temporary file, fsync, rename) under an
// exclusive lock on `<root>/leases.lock`, so readers never see half a file and concurrent
// changes from several processes do not lose each other's updates. SQLite takes over when the
// metadata store lands; the LeaseManager interface stays.
//
// Used by LocalStore, which shares its root and its GC lock (`<root>/gc.lock`): AddResource
// holds that lock shared, so a lease resource and a GC pass never interleave.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "content/lease.h"

namespace berth::content {

class LocalLeaseManager final : public LeaseManager {
 public:
  // Creates `<root>/leases` if needed.
  static Result<std::unique_ptr<LocalLeaseManager>> Open(const std::string& root);

  Result<Lease> Create(const Context& ctx, const LeaseOptions& options) override;
  Result<> Delete(const Context& ctx, const std::string& id) override;
  Result<std::vector<Lease>> List(const Context& ctx) override;
  Result<> AddResource(const Context& ctx, const std::string& id,
                       const digest::Digest& digest) override;
  Result<> DeleteResource(const Context& ctx, const std::string& id,
                          const digest::Digest& digest) override;
  Result<std::vector<digest::Digest>> ListResources(const Context& ctx,
                                                    const std::string& id) override;

  // For LocalStore, which holds `<root>/gc.lock` around these calls.
  // AddResource without taking the GC lock.
  Result<> AddResourceHoldingGcLock(const std::string& id, const digest::Digest& digest);
  // Deletes leases expired at `now`; returns how many.
  Result<size_t> DeleteExpiredHoldingGcLock(std::chrono::system_clock::time_point now);
  // The union of all leases' resources.
  Result<std::set<digest::Digest>> AllResourcesHoldingGcLock();

 private:
  explicit LocalLeaseManager(const std::string& root);

  struct LeaseFile {
    Lease lease;
    std::set<digest::Digest> resources;
  };
  Result<LeaseFile> Load(const std::string& id) const;
  Result<> Save(const LeaseFile& file) const;
  Result<std::vector<std::string>> Ids() const;
  std::string PathOf(const std::string& id) const { return dir_ + "/" + id; }

  std::string dir_;
  std::string lock_path_;
  std::string gc_lock_path_;
};

}  // namespace berth::content
