#include "images/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "digest/digest.h"
#include "oci/blob_source.h"
#include "oci/media_types.h"
#include "os/file.h"
#include "reference/reference.h"

namespace berth::images {
namespace {

constexpr std::string_view kRecordSuffix = ".json";
constexpr int kRecordVersion = 1;
// Index nesting deeper than this is not followed when computing GC roots (as oci's resolver).
constexpr int kMaxIndexDepth = 8;

// An flock(2) on <dir>/lock, released on destruction.
class DirLock {
 public:
  static Result<DirLock> Acquire(const std::string& path, int operation) {
    UniqueFd fd = BERTH_TRY(os::Open(path, O_RDWR | O_CREAT, 0644));
    while (flock(fd.get(), operation) != 0) {
      if (errno != EINTR) {
        return Error::FromErrno("flock " + path, errno);
      }
    }
    return DirLock(std::move(fd));
  }

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

int64_t ToNanos(Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Time FromNanos(int64_t ns) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(ns)));
}

std::string EncodeRecord(const Image& image) {
  nlohmann::json j;
  j["version"] = kRecordVersion;
  j["name"] = image.name;
  j["target"] = nlohmann::json::parse(oci::Serialize(image.target));
  j["createdAtNanos"] = ToNanos(image.created_at);
  j["updatedAtNanos"] = ToNanos(image.updated_at);
  return j.dump() + "\n";
}

Result<Image> DecodeRecord(const std::string& path, const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object() || j.value("version", 0) != kRecordVersion || !j["name"].is_string() ||
        !j["target"].is_object()) {
      return Error::DataLoss(path + ": not an image record");
    }
    Image image;
    image.name = j["name"].get<std::string>();
    image.target = BERTH_TRY_CONTEXT(oci::ParseDescriptor(j["target"].dump()), "reading " + path);
    image.created_at = FromNanos(j.value("createdAtNanos", int64_t{0}));
    image.updated_at = FromNanos(j.value("updatedAtNanos", int64_t{0}));
    return image;
  } catch (const nlohmann::json::exception& e) {
    return Error::DataLoss(path + ": " + e.what());
  }
}

// Adds `desc` and every blob it reaches that the store holds to `roots`. Missing or unreadable
// blobs end the walk below them, never the collection.
void AddReachable(const Context& ctx, content::Store& store, const oci::Descriptor& desc, int depth,
                  std::set<digest::Digest>& roots) {
  if (!roots.insert(desc.digest).second) {
    return;
  }
  bool index = oci::IsIndexMediaType(desc.media_type);
  bool manifest = oci::IsManifestMediaType(desc.media_type);
  if (!index && !manifest) {
    return;
  }
  Result<std::string> text = content::ReadBlob(ctx, store, desc.digest, oci::kMaxDocumentSize);
  if (!text.ok()) {
    return;
  }
  if (index) {
    Result<oci::Index> parsed = oci::ParseIndex(*text);
    if (parsed.ok() && depth < kMaxIndexDepth) {
      for (const oci::Descriptor& child : parsed->manifests) {
        AddReachable(ctx, store, child, depth + 1, roots);
      }
    }
    return;
  }
  Result<oci::Manifest> parsed = oci::ParseManifest(*text);
  if (!parsed.ok()) {
    return;
  }
  roots.insert(parsed->config.digest);
  for (const oci::Descriptor& layer : parsed->layers) {
    roots.insert(layer.digest);
  }
}

}  // namespace

Result<std::string> NormalizeName(std::string_view name) {
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(name));
  return ref.String();
}

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::string& dir,
                                                   content::Store& content) {
  BERTH_TRY_CONTEXT(os::MakeDirs(dir, 0700), "creating the image store");
  return std::unique_ptr<FileStore>(new FileStore(dir, content));
}

std::string FileStore::PathOf(const std::string& normalized_name) const {
  return dir_ + "/" + digest::FromBytes(normalized_name).hex() + std::string(kRecordSuffix);
}

Result<Image> FileStore::Put(const Context& ctx, std::string_view name,
                             const oci::Descriptor& target) {
  BERTH_TRY(ctx.Check());
  std::string normalized = BERTH_TRY(NormalizeName(name));
  if (!oci::IsManifestMediaType(target.media_type) && !oci::IsIndexMediaType(target.media_type)) {
    return Error::InvalidArgument("image " + normalized + ": target media type \"" +
                                  target.media_type + "\" is neither a manifest nor an index");
  }
  DirLock lock = BERTH_TRY(DirLock::Acquire(dir_ + "/lock", LOCK_SH));
  std::string path = PathOf(normalized);
  Time now = std::chrono::system_clock::now();
  Image image{.name = normalized, .target = target, .created_at = now, .updated_at = now};
  if (Result<std::string> old = os::ReadFile(path); old.ok()) {
    if (Result<Image> prev = DecodeRecord(path, *old); prev.ok() && prev->name == normalized) {
      image.created_at = prev->created_at;
      if (prev->target == target) {
        image.updated_at = prev->updated_at;
      }
    }
  }
  BERTH_TRY_CONTEXT(os::WriteFileAtomic(path, EncodeRecord(image), 0644),
                    "storing image " + normalized);
  return image;
}

Result<Image> FileStore::Get(const Context& ctx, std::string_view name) {
  BERTH_TRY(ctx.Check());
  std::string normalized = BERTH_TRY(NormalizeName(name));
  std::string path = PathOf(normalized);
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("no such image: " + normalized);
    }
    return std::move(text).error();
  }
  Image image = BERTH_TRY(DecodeRecord(path, *text));
  if (image.name != normalized) {
    return Error::DataLoss(path + ": holds " + image.name + ", not " + normalized);
  }
  return image;
}

Result<std::vector<Image>> FileStore::ListUnlocked(const Context& ctx) {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) {
    return Error::FromErrno("opendir " + dir_, errno);
  }
  std::vector<std::string> files;
  // readdir(3) on a stream only this thread uses is safe; readdir_r is deprecated.
  while (struct dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    std::string_view n = e->d_name;
    if (n.size() > kRecordSuffix.size() && n.ends_with(kRecordSuffix) && n[0] != '.') {
      files.emplace_back(n);
    }
  }
  closedir(d);
  std::vector<Image> images;
  for (const std::string& file : files) {
    BERTH_TRY(ctx.Check());
    std::string path = dir_ + "/" + file;
    Result<std::string> text = os::ReadFile(path);
    if (!text.ok()) {
      if (text.error().code() == ErrorCode::kNotFound) {
        continue;  // deleted since the directory was read
      }
      return std::move(text).error();
    }
    images.push_back(BERTH_TRY(DecodeRecord(path, *text)));
  }
  std::sort(images.begin(), images.end(),
            [](const Image& a, const Image& b) { return a.name < b.name; });
  return images;
}

Result<std::vector<Image>> FileStore::List(const Context& ctx) {
  BERTH_TRY(ctx.Check());
  return ListUnlocked(ctx);
}

Result<content::GcStats> FileStore::Delete(const Context& ctx, std::string_view name) {
  BERTH_TRY(ctx.Check());
  std::string normalized = BERTH_TRY(NormalizeName(name));
  {
    DirLock lock = BERTH_TRY(DirLock::Acquire(dir_ + "/lock", LOCK_SH));
    std::string path = PathOf(normalized);
    if (unlink(path.c_str()) != 0) {
      if (errno == ENOENT) {
        return Error::NotFound("no such image: " + normalized);
      }
      return Error::FromErrno("unlink " + path, errno);
    }
  }
  return GarbageCollect(ctx);
}

Result<content::GcStats> FileStore::GarbageCollect(const Context& ctx,
                                                   const std::set<digest::Digest>& extra_roots) {
  DirLock lock = BERTH_TRY(DirLock::Acquire(dir_ + "/lock", LOCK_EX));
  std::vector<Image> images = BERTH_TRY(ListUnlocked(ctx));
  std::set<digest::Digest> roots = extra_roots;
  for (const Image& image : images) {
    AddReachable(ctx, content_, image.target, 0, roots);
  }
  return content_.GarbageCollect(ctx, roots);
}

}  // namespace berth::images
