#include "content/local_lease_manager.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <sstream>

#include "base/scope_exit.h"
#include "content/file_lock.h"
#include "os/file.h"

namespace berth::content {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::string_view kHeader = "berth-lease v1";

int64_t ToNanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point FromNanos(int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string RandomId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "lease-";
  uint64_t bits = rng();
  for (int i = 0; i < 16; ++i) {
    id += kHex[(bits >> (4 * i)) & 0xf];
  }
  return id;
}

Result<int64_t> ParseInt(std::string_view text, const std::string& path) {
  int64_t value = 0;
  if (text.empty()) {
    return Error::DataLoss("corrupt lease file " + path + ": empty number");
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Error::DataLoss("corrupt lease file " + path + ": bad number");
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

LocalLeaseManager::LocalLeaseManager(const std::string& root)
    : dir_(root + "/leases"), lock_path_(root + "/leases.lock"), gc_lock_path_(root + "/gc.lock") {}

Result<std::unique_ptr<LocalLeaseManager>> LocalLeaseManager::Open(const std::string& root) {
  std::unique_ptr<LocalLeaseManager> m(new LocalLeaseManager(root));
  BERTH_TRY(os::MakeDirs(m->dir_));
  return m;
}

Result<LocalLeaseManager::LeaseFile> LocalLeaseManager::Load(const std::string& id) const {
  if (!IsValidLeaseId(id)) {
    return Error::InvalidArgument("invalid lease id \"" + id + "\"");
  }
  std::string path = PathOf(id);
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("lease " + id + " not found");
    }
    return std::move(text).error();
  }
  LeaseFile file;
  file.lease.id = id;
  std::istringstream in(*text);
  std::string line;
  if (!std::getline(in, line) || line != kHeader) {
    return Error::DataLoss("corrupt lease file " + path + ": bad header");
  }
  while (std::getline(in, line)) {
    if (line.rfind("created ", 0) == 0) {
      file.lease.created_at = FromNanos(BERTH_TRY(ParseInt(line.substr(8), path)));
    } else if (line.rfind("expires ", 0) == 0) {
      file.lease.expires_at = FromNanos(BERTH_TRY(ParseInt(line.substr(8), path)));
    } else if (!line.empty()) {
      Result<digest::Digest> d = digest::Digest::Parse(line);
      if (!d.ok()) {
        return Error::DataLoss("corrupt lease file " + path + ": " + d.error().message());
      }
      file.resources.insert(std::move(d).value());
    }
  }
  return file;
}

Result<> LocalLeaseManager::Save(const LeaseFile& file) const {
  std::string text(kHeader);
  text += "\ncreated " + std::to_string(ToNanos(file.lease.created_at)) + "\n";
  if (file.lease.expires_at) {
    text += "expires " + std::to_string(ToNanos(*file.lease.expires_at)) + "\n";
  }
  for (const digest::Digest& d : file.resources) {
    text += d.ToString() + "\n";
  }
  return os::WriteFileAtomic(PathOf(file.lease.id), text);
}

Result<std::vector<std::string>> LocalLeaseManager::Ids() const {
  DIR* dir = ::opendir(dir_.c_str());
  if (dir == nullptr) {
    return Error::FromErrno("opendir " + dir_, errno);
  }
  ScopeExit close_dir([dir] { ::closedir(dir); });
  std::vector<std::string> ids;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR* is ours alone; glibc's readdir is safe so.
  while (dirent* e = ::readdir(dir)) {
    // Skips ".", ".." and WriteFileAtomic's temporaries ("<id>.tmp-N").
    std::string name = e->d_name;
    if (IsValidLeaseId(name)) {
      ids.push_back(std::move(name));
    }
  }
  return ids;
}

Result<Lease> LocalLeaseManager::Create(const Context& ctx, const LeaseOptions& options) {
  BERTH_TRY(ctx.Check());
  std::string id = options.id.empty() ? RandomId() : options.id;
  if (!IsValidLeaseId(id)) {
    return Error::InvalidArgument("invalid lease id \"" + id +
                                  "\": want 1-128 of [A-Za-z0-9._-], not starting with '.'");
  }
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  if (os::Exists(PathOf(id))) {
    return Error::AlreadyExists("lease " + id + " already exists");
  }
  LeaseFile file;
  file.lease.id = id;
  file.lease.created_at = Clock::now();
  if (options.ttl) {
    file.lease.expires_at = file.lease.created_at + *options.ttl;
  }
  BERTH_TRY(Save(file));
  return file.lease;
}

Result<> LocalLeaseManager::Delete(const Context& ctx, const std::string& id) {
  BERTH_TRY(ctx.Check());
  if (!IsValidLeaseId(id)) {
    return Error::InvalidArgument("invalid lease id \"" + id + "\"");
  }
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  std::string path = PathOf(id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Error::NotFound("lease " + id + " not found");
    }
    return Error::FromErrno("unlink " + path, errno);
  }
  return {};
}

Result<std::vector<Lease>> LocalLeaseManager::List(const Context& ctx) {
  BERTH_TRY(ctx.Check());
  std::vector<Lease> leases;
  for (const std::string& id : BERTH_TRY(Ids())) {
    Result<LeaseFile> file = Load(id);
    if (!file.ok()) {
      if (file.error().code() == ErrorCode::kNotFound) {
        continue;  // Deleted while we listed.
      }
      return std::move(file).error();
    }
    leases.push_back(std::move(file->lease));
  }
  return leases;
}

Result<> LocalLeaseManager::AddResource(const Context& ctx, const std::string& id,
                                        const digest::Digest& digest) {
  BERTH_TRY(ctx.Check());
  FileLock gc_lock = BERTH_TRY(FileLock::Acquire(gc_lock_path_, FileLock::Mode::kShared));
  return AddResourceHoldingGcLock(id, digest);
}

Result<> LocalLeaseManager::AddResourceHoldingGcLock(const std::string& id,
                                                     const digest::Digest& digest) {
  if (digest.empty()) {
    return Error::InvalidArgument("empty digest");
  }
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  LeaseFile file = BERTH_TRY(Load(id));
  if (!file.resources.insert(digest).second) {
    return {};
  }
  return Save(file);
}

Result<> LocalLeaseManager::DeleteResource(const Context& ctx, const std::string& id,
                                           const digest::Digest& digest) {
  BERTH_TRY(ctx.Check());
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  LeaseFile file = BERTH_TRY(Load(id));
  if (file.resources.erase(digest) == 0) {
    return {};
  }
  return Save(file);
}

Result<std::vector<digest::Digest>> LocalLeaseManager::ListResources(const Context& ctx,
                                                                     const std::string& id) {
  BERTH_TRY(ctx.Check());
  LeaseFile file = BERTH_TRY(Load(id));
  return std::vector<digest::Digest>(file.resources.begin(), file.resources.end());
}

Result<size_t> LocalLeaseManager::DeleteExpiredHoldingGcLock(Clock::time_point now) {
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  size_t deleted = 0;
  for (const std::string& id : BERTH_TRY(Ids())) {
    LeaseFile file = BERTH_TRY(Load(id));
    if (file.lease.expires_at && *file.lease.expires_at <= now) {
      std::string path = PathOf(id);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error::FromErrno("unlink " + path, errno);
      }
      ++deleted;
    }
  }
  return deleted;
}

Result<std::set<digest::Digest>> LocalLeaseManager::AllResourcesHoldingGcLock() {
  // Exclusive: the set must not miss a change that is half-way through.
  FileLock lock = BERTH_TRY(FileLock::Acquire(lock_path_, FileLock::Mode::kExclusive));
  std::set<digest::Digest> all;
  for (const std::string& id : BERTH_TRY(Ids())) {
    LeaseFile file = BERTH_TRY(Load(id));
    all.merge(file.resources);
  }
  return all;
}

}  // namespace berth::content
