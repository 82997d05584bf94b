#include "content/lease.h"

#include <utility>

namespace berth::content {

Result<ScopedLease> ScopedLease::Create(const Context& ctx, LeaseManager& manager,
                                        const LeaseOptions& options) {
  Lease lease = BERTH_TRY(manager.Create(ctx, options));
  return ScopedLease(&manager, std::move(lease.id));
}

ScopedLease::ScopedLease(ScopedLease&& other) noexcept
    : manager_(std::exchange(other.manager_, nullptr)), id_(std::move(other.id_)) {}

ScopedLease& ScopedLease::operator=(ScopedLease&& other) noexcept {
  if (this != &other) {
    if (manager_ != nullptr) {
      (void)manager_->Delete(Context::Background(), id_);
    }
    manager_ = std::exchange(other.manager_, nullptr);
    id_ = std::move(other.id_);
  }
  return *this;
}

ScopedLease::~ScopedLease() {
  if (manager_ != nullptr) {
    // Best effort: a lease left behind only delays collection (until it expires or is deleted).
    (void)manager_->Delete(Context::Background(), id_);
  }
}

Result<> ScopedLease::Delete(const Context& ctx) {
  if (manager_ == nullptr) {
    return Error::FailedPrecondition("lease already deleted or released");
  }
  LeaseManager* manager = std::exchange(manager_, nullptr);
  return manager->Delete(ctx, id_);
}

std::string ScopedLease::Release() {
  manager_ = nullptr;
  return std::move(id_);
}

bool IsValidLeaseId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id.find(".tmp-") != std::string_view::npos) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace berth::content
