// Leases: named sets of blob digests that garbage collection keeps.
//
// A build takes a lease before it pulls or writes blobs and adds each blob to it, so that a
// concurrent GC cannot remove what the build is about to use; the cache index and image store
// hold leases for what they reference. A lease may expire (a TTL), so that a crashed process
// does not pin its blobs forever. Modelled on containerd's leases.Manager.
//
// LeaseManager methods are thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "digest/digest.h"

namespace berth::content {

struct Lease {
  std::string id;
  std::chrono::system_clock::time_point created_at;
  // After this instant the lease no longer protects anything and GC deletes it.
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

struct LeaseOptions {
  // Empty: a random id is generated. Otherwise 1-128 characters of [A-Za-z0-9._-], not starting
  // with '.' and not containing ".tmp-" (which marks a lease file being written).
  std::string id;
  std::optional<std::chrono::seconds> ttl;
};

class LeaseManager {
 public:
  LeaseManager() = default;
  LeaseManager(const LeaseManager&) = delete;
  LeaseManager& operator=(const LeaseManager&) = delete;
  LeaseManager(LeaseManager&&) = delete;
  LeaseManager& operator=(LeaseManager&&) = delete;
  virtual ~LeaseManager() = default;

  // AlreadyExists if the id is taken; InvalidArgument for a malformed id.
  virtual Result<Lease> Create(const Context& ctx, const LeaseOptions& options = {}) = 0;
  // Deletes the lease; its resources lose its protection. NotFound if absent.
  virtual Result<> Delete(const Context& ctx, const std::string& id) = 0;
  virtual Result<std::vector<Lease>> List(const Context& ctx) = 0;

  // Adds `digest` to the lease (idempotent). The blob need not exist yet: adding first and then
  // checking or writing the blob is how a caller keeps it safe from a concurrent GC.
  // NotFound if the lease does not exist.
  virtual Result<> AddResource(const Context& ctx, const std::string& id,
                               const digest::Digest& digest) = 0;
  // Removes `digest` from the lease (idempotent). NotFound if the lease does not exist.
  virtual Result<> DeleteResource(const Context& ctx, const std::string& id,
                                  const digest::Digest& digest) = 0;
  // The lease's digests, sorted. NotFound if the lease does not exist.
  virtual Result<std::vector<digest::Digest>> ListResources(const Context& ctx,
                                                            const std::string& id) = 0;
};

// Owns a lease for a scope: deletes it on destruction (best effort) unless Release()d. Move-only.
//
//   ScopedLease lease = BERTH_TRY(ScopedLease::Create(ctx, store.leases()));
//   ... OpenWriter({.ref = ..., .lease = lease.id()}) ...
class ScopedLease {
 public:
  ScopedLease() = default;
  static Result<ScopedLease> Create(const Context& ctx, LeaseManager& manager,
                                    const LeaseOptions& options = {});
  ScopedLease(const ScopedLease&) = delete;
  ScopedLease& operator=(const ScopedLease&) = delete;
  ScopedLease(ScopedLease&& other) noexcept;
  ScopedLease& operator=(ScopedLease&& other) noexcept;
  ~ScopedLease();

  const std::string& id() const { return id_; }
  bool valid() const { return manager_ != nullptr; }

  // Deletes the lease now, reporting errors.
  Result<> Delete(const Context& ctx);
  // Keeps the lease alive beyond this handle and returns its id.
  std::string Release();

 private:
  ScopedLease(LeaseManager* manager, std::string id) : manager_(manager), id_(std::move(id)) {}

  LeaseManager* manager_ = nullptr;
  std::string id_;
};

// True if `id` is a well-formed lease id (see LeaseOptions::id).
bool IsValidLeaseId(std::string_view id);

}  // namespace berth::content
