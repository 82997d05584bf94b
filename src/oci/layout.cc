#include "oci/layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/scope_exit.h"
#include "base/strings.h"
#include "oci/media_types.h"
#include "oci/tar_writer.h"
#include "oci/walk.h"
#include "os/file.h"

namespace berth::oci {
namespace {

using json = nlohmann::json;

std::string LayoutFileJson() {
  return std::string(R"({"imageLayoutVersion":")") + std::string(kLayoutVersion) + "\"}";
}

Result<> CheckLayoutFile(std::string_view data, std::string_view where) {
  json j = json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::InvalidArgument(std::string(where) + ": not a JSON object");
  }
  auto it = j.find("imageLayoutVersion");
  if (it == j.end() || !it->is_string()) {
    return Error::InvalidArgument(std::string(where) +
                                  ": imageLayoutVersion: required field missing");
  }
  const std::string& version = it->get_ref<const std::string&>();
  if (version != kLayoutVersion) {
    return Error::FailedPrecondition(std::string(where) + ": imageLayoutVersion \"" + version +
                                     "\" is not supported, want \"" + std::string(kLayoutVersion) +
                                     "\"");
  }
  return {};
}

Descriptor EntryDescriptor(const LayoutEntry& entry) {
  Descriptor d = entry.descriptor;
  if (!entry.ref_name.empty()) {
    d.annotations[std::string(kAnnotationRefName)] = entry.ref_name;
  }
  if (!entry.image_name.empty()) {
    d.annotations[std::string(kAnnotationImageName)] = entry.image_name;
  }
  return d;
}

std::string Annotation(const Descriptor& d, std::string_view key) {
  auto it = d.annotations.find(std::string(key));
  return it == d.annotations.end() ? std::string() : it->second;
}

// index.json for `entries`, keeping those of `existing` that no new entry replaces.
Index BuildIndex(std::span<const LayoutEntry> entries, const Index* existing) {
  Index index;
  index.media_type = std::string(kMediaTypeImageIndex);
  std::vector<Descriptor> fresh;
  for (const LayoutEntry& e : entries) {
    Descriptor d = EntryDescriptor(e);
    if (std::find(fresh.begin(), fresh.end(), d) == fresh.end()) {
      fresh.push_back(std::move(d));
    }
  }
  if (existing != nullptr) {
    index.annotations = existing->annotations;
    for (const Descriptor& old : existing->manifests) {
      std::string old_name = Annotation(old, kAnnotationRefName);
      bool replaced = false;
      for (const Descriptor& d : fresh) {
        if (old == d || (!old_name.empty() && Annotation(d, kAnnotationRefName) == old_name)) {
          replaced = true;
          break;
        }
      }
      if (!replaced) {
        index.manifests.push_back(old);
      }
    }
  }
  for (Descriptor& d : fresh) {
    index.manifests.push_back(std::move(d));
  }
  return index;
}

Result<BlobSet> CollectAll(BlobSource& source, std::span<const LayoutEntry> entries) {
  BlobSet set;
  for (const LayoutEntry& e : entries) {
    BERTH_TRY_CONTEXT(CollectBlobs(source, e.descriptor, set),
                      "collecting " + e.descriptor.digest.ToString());
  }
  return set;
}

// Copies one blob into `path` through a temporary file beside it, fsynced and renamed.
Result<> WriteBlobFile(const std::string& path, BlobSource& source, const BlobSet& set,
                       const Descriptor& blob) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == blob.size) {
    return {};  // Content-addressed: a file of the right size under this name is this blob.
  }
  static std::atomic<uint64_t> counter{0};
  std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  UniqueFd fd = BERTH_TRY(os::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
  auto cleanup = ScopeExit([&] { ::unlink(tmp.c_str()); });
  std::unique_ptr<Reader> reader = BERTH_TRY(OpenCollected(source, set, blob));
  FdWriter writer(fd.get());
  uint64_t n = BERTH_TRY(Copy(writer, *reader));
  if (n != static_cast<uint64_t>(blob.size)) {
    return Error::DataLoss(blob.digest.ToString() + ": copied " + std::to_string(n) +
                           " bytes, want " + std::to_string(blob.size));
  }
  if (::fsync(fd.get()) != 0) {
    return Error::FromErrno("fsync " + tmp, errno);
  }
  BERTH_TRY(fd.Close());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error::FromErrno("rename " + tmp, errno);
  }
  cleanup.Cancel();
  return {};
}

// ---- Reading ----

class DirLayoutReader final : public LayoutReader {
 public:
  DirLayoutReader(Index index, std::string blobs_dir)
      : LayoutReader(std::move(index)), blobs_(std::move(blobs_dir)) {}

  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override {
    std::unique_ptr<Reader> raw = BERTH_TRY(blobs_.Open(digest));
    return std::unique_ptr<Reader>(std::make_unique<VerifyingReader>(std::move(raw), digest));
  }

 private:
  DirBlobSource blobs_;
};

// An open libarchive reader over a file.
class ArchiveHandle {
 public:
  static Result<std::unique_ptr<ArchiveHandle>> Open(const std::string& path) {
    UniqueFd fd = BERTH_TRY(os::Open(path, O_RDONLY));
    auto h = std::unique_ptr<ArchiveHandle>(new ArchiveHandle(std::move(fd)));
    if (h->archive_ == nullptr) {
      return Error(ErrorCode::kResourceExhausted, "tar: out of memory");
    }
    archive_read_support_format_tar(h->archive_);
    // Only filters libarchive implements in-process: no external decompressor programs.
    archive_read_support_filter_gzip(h->archive_);
    archive_read_support_filter_zstd(h->archive_);
    if (archive_read_open_fd(h->archive_, h->fd_.get(), 64 * 1024) != ARCHIVE_OK) {
      return h->Fail(path);
    }
    return h;
  }
  ArchiveHandle(const ArchiveHandle&) = delete;
  ArchiveHandle& operator=(const ArchiveHandle&) = delete;
  ~ArchiveHandle() { archive_read_free(archive_); }

  // The next entry, or nullptr at the end of the archive.
  Result<struct archive_entry*> Next(const std::string& path) {
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(archive_, &entry);
    if (rc == ARCHIVE_EOF) {
      return static_cast<struct archive_entry*>(nullptr);
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return Fail(path);
    }
    return entry;
  }

  Result<size_t> Read(char* buf, size_t size, const std::string& path) {
    la_ssize_t n = archive_read_data(archive_, buf, size);
    if (n < 0) {
      return Fail(path);
    }
    return static_cast<size_t>(n);
  }

  Error Fail(const std::string& path) {
    const char* msg = archive_error_string(archive_);
    return Error::DataLoss("tar " + path + ": " + (msg != nullptr ? msg : "unreadable archive"));
  }

 private:
  explicit ArchiveHandle(UniqueFd fd) : fd_(std::move(fd)), archive_(archive_read_new()) {}

  UniqueFd fd_;
  struct archive* archive_;
};

// Reads the data of the current entry of an ArchiveHandle it owns.
class EntryReader final : public Reader {
 public:
  EntryReader(std::unique_ptr<ArchiveHandle> handle, std::string path)
      : handle_(std::move(handle)), path_(std::move(path)) {}

  Result<size_t> Read(char* buf, size_t size) override { return handle_->Read(buf, size, path_); }

 private:
  std::unique_ptr<ArchiveHandle> handle_;
  std::string path_;
};

// "./blobs/sha256/x" and "/blobs/sha256/x" name "blobs/sha256/x".
std::string_view CleanName(std::string_view name) {
  for (;;) {
    if (name.starts_with("./")) {
      name.remove_prefix(2);
    } else if (name.starts_with("/")) {
      name.remove_prefix(1);
    } else {
      return name;
    }
  }
}

// The digest a "blobs/<algorithm>/<hex>" entry name stands for.
std::optional<digest::Digest> BlobName(std::string_view name) {
  if (!name.starts_with("blobs/")) {
    return std::nullopt;
  }
  name.remove_prefix(6);
  size_t slash = name.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  std::string text = std::string(name.substr(0, slash)) + ":" + std::string(name.substr(slash + 1));
  Result<digest::Digest> d = digest::Digest::Parse(text);
  if (!d.ok()) {
    return std::nullopt;
  }
  return std::move(d).value();
}

Result<std::string> ReadEntry(ArchiveHandle& h, struct archive_entry* entry,
                              const std::string& path, std::string_view name) {
  int64_t size = archive_entry_size(entry);
  if (size < 0 || static_cast<uint64_t>(size) > kMaxDocumentSize) {
    return Error(ErrorCode::kResourceExhausted,
                 "tar " + path + ": " + std::string(name) + " is too large");
  }
  std::string data(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    size_t n = BERTH_TRY(h.Read(data.data() + done, data.size() - done, path));
    if (n == 0) {
      return Error::DataLoss("tar " + path + ": " + std::string(name) + " is truncated");
    }
    done += n;
  }
  return data;
}

// Where a blob sits in a layout tar: its entry's position (the last entry of that name wins,
// as when the archive is extracted) and size.
struct TarBlob {
  size_t entry = 0;
  int64_t size = 0;
};

class TarLayoutReader final : public LayoutReader {
 public:
  TarLayoutReader(Index index, std::string path, std::map<digest::Digest, TarBlob> blobs)
      : LayoutReader(std::move(index)), path_(std::move(path)), blobs_(std::move(blobs)) {}

  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override {
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) {
      return Error::NotFound("blob " + digest.ToString() + " not found in " + path_);
    }
    std::string want = "blobs/" + digest.algorithm() + "/" + digest.hex();
    std::unique_ptr<ArchiveHandle> h = BERTH_TRY(ArchiveHandle::Open(path_));
    for (size_t i = 0;; ++i) {
      struct archive_entry* entry = BERTH_TRY(h->Next(path_));
      if (entry == nullptr || i > it->second.entry) {
        return Error::NotFound("blob " + digest.ToString() + " vanished from " + path_);
      }
      if (i < it->second.entry) {
        continue;
      }
      const char* name = archive_entry_pathname(entry);
      if (name == nullptr || CleanName(name) != want) {
        return Error::NotFound("blob " + digest.ToString() + " vanished from " + path_);
      }
      auto reader = std::make_unique<EntryReader>(std::move(h), path_);
      return std::unique_ptr<Reader>(
          std::make_unique<VerifyingReader>(std::move(reader), digest, it->second.size));
    }
  }

 private:
  std::string path_;
  std::map<digest::Digest, TarBlob> blobs_;
};

}  // namespace

Result<> WriteLayoutDir(const std::string& dir, BlobSource& blobs,
                        std::span<const LayoutEntry> entries) {
  BERTH_TRY(os::MakeDirs(dir));
  std::string layout_path = dir + "/" + std::string(kLayoutFileName);
  Result<std::string> layout_file = os::ReadFile(layout_path);
  if (layout_file.ok()) {
    BERTH_TRY(CheckLayoutFile(*layout_file, layout_path));
  } else if (layout_file.error().code() != ErrorCode::kNotFound) {
    return std::move(layout_file).error();
  }
  std::optional<Index> existing;
  std::string index_path = dir + "/" + std::string(kLayoutIndexName);
  Result<std::string> index_file = os::ReadFile(index_path);
  if (index_file.ok()) {
    existing = BERTH_TRY_CONTEXT(ParseIndex(*index_file), index_path);
  } else if (index_file.error().code() != ErrorCode::kNotFound) {
    return std::move(index_file).error();
  }

  BlobSet set = BERTH_TRY(CollectAll(blobs, entries));
  std::set<std::string> made;
  for (const Descriptor& blob : set.blobs) {
    std::string parent = dir + "/blobs/" + blob.digest.algorithm();
    if (made.insert(parent).second) {
      BERTH_TRY(os::MakeDirs(parent));
    }
    BERTH_TRY_CONTEXT(WriteBlobFile(parent + "/" + blob.digest.hex(), blobs, set, blob),
                      "writing " + blob.digest.ToString());
  }
  if (!layout_file.ok()) {
    BERTH_TRY(os::WriteFileAtomic(layout_path, LayoutFileJson()));
  }
  Index index = BuildIndex(entries, existing.has_value() ? &*existing : nullptr);
  return os::WriteFileAtomic(index_path, Serialize(index));
}

Result<> WriteLayoutTar(Writer& out, BlobSource& blobs, std::span<const LayoutEntry> entries) {
  BlobSet set = BERTH_TRY(CollectAll(blobs, entries));
  std::unique_ptr<TarWriter> tar = BERTH_TRY(TarWriter::Create(out));
  BERTH_TRY(tar->AddFile(kLayoutFileName, LayoutFileJson()));
  BERTH_TRY(tar->AddFile(kLayoutIndexName, Serialize(BuildIndex(entries, nullptr))));
  BERTH_TRY(AddBlobsToTar(*tar, blobs, set));
  return tar->Close();
}

Result<std::unique_ptr<LayoutReader>> LayoutReader::OpenDir(const std::string& dir) {
  std::string layout_path = dir + "/" + std::string(kLayoutFileName);
  Result<std::string> layout_file = os::ReadFile(layout_path);
  if (!layout_file.ok()) {
    if (layout_file.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound(dir + " is not an OCI image layout: no " +
                             std::string(kLayoutFileName) + " file");
    }
    return std::move(layout_file).error();
  }
  BERTH_TRY(CheckLayoutFile(*layout_file, layout_path));
  std::string index_path = dir + "/" + std::string(kLayoutIndexName);
  std::string index_file = BERTH_TRY(os::ReadFile(index_path));
  Index index = BERTH_TRY_CONTEXT(ParseIndex(index_file), index_path);
  return std::unique_ptr<LayoutReader>(
      std::make_unique<DirLayoutReader>(std::move(index), dir + "/blobs"));
}

Result<std::unique_ptr<LayoutReader>> LayoutReader::OpenTar(const std::string& path) {
  std::unique_ptr<ArchiveHandle> h = BERTH_TRY(ArchiveHandle::Open(path));
  std::optional<std::string> layout_file;
  std::optional<std::string> index_file;
  std::map<digest::Digest, TarBlob> blobs;
  for (size_t i = 0;; ++i) {
    struct archive_entry* entry = BERTH_TRY(h->Next(path));
    if (entry == nullptr) {
      break;
    }
    const char* raw_name = archive_entry_pathname(entry);
    if (raw_name == nullptr || archive_entry_filetype(entry) != AE_IFREG) {
      continue;
    }
    std::string_view name = CleanName(raw_name);
    if (name == kLayoutFileName) {
      layout_file = BERTH_TRY(ReadEntry(*h, entry, path, name));
    } else if (name == kLayoutIndexName) {
      index_file = BERTH_TRY(ReadEntry(*h, entry, path, name));
    } else if (std::optional<digest::Digest> d = BlobName(name)) {
      blobs[*d] = TarBlob{i, archive_entry_size(entry)};
    }
  }
  if (!layout_file.has_value()) {
    return Error::NotFound(path + " is not an OCI image layout archive: no " +
                           std::string(kLayoutFileName) + " entry");
  }
  BERTH_TRY(CheckLayoutFile(*layout_file, path + ":" + std::string(kLayoutFileName)));
  if (!index_file.has_value()) {
    return Error::NotFound(path + ": no " + std::string(kLayoutIndexName) + " entry");
  }
  Index index =
      BERTH_TRY_CONTEXT(ParseIndex(*index_file), path + ":" + std::string(kLayoutIndexName));
  return std::unique_ptr<LayoutReader>(
      std::make_unique<TarLayoutReader>(std::move(index), path, std::move(blobs)));
}

std::vector<LayoutEntry> LayoutReader::Entries() const {
  std::vector<LayoutEntry> out;
  for (const Descriptor& d : index_.manifests) {
    LayoutEntry e;
    e.descriptor = d;
    e.ref_name = Annotation(d, kAnnotationRefName);
    e.image_name = Annotation(d, kAnnotationImageName);
    out.push_back(std::move(e));
  }
  return out;
}

Result<Descriptor> LayoutReader::Resolve(std::string_view name) const {
  if (name.empty()) {
    if (index_.manifests.size() == 1) {
      return index_.manifests[0];
    }
    return Error::InvalidArgument("the layout holds " + std::to_string(index_.manifests.size()) +
                                  " images: name one");
  }
  for (std::string_view key : {kAnnotationRefName, kAnnotationImageName}) {
    const Descriptor* found = nullptr;
    for (const Descriptor& d : index_.manifests) {
      if (Annotation(d, key) != name) {
        continue;
      }
      if (found != nullptr && found->digest != d.digest) {
        return Error::InvalidArgument("\"" + std::string(name) + "\" names several images (" +
                                      found->digest.ToString() + ", " + d.digest.ToString() + ")");
      }
      if (found == nullptr) {
        found = &d;
      }
    }
    if (found != nullptr) {
      return *found;
    }
  }
  std::vector<std::string> names;
  for (const Descriptor& d : index_.manifests) {
    std::string n = Annotation(d, kAnnotationRefName);
    if (!n.empty()) {
      names.push_back(n);
    }
  }
  return Error::NotFound("no image named \"" + std::string(name) + "\" in the layout (names: " +
                         (names.empty() ? std::string("none") : StrJoin(names, ", ")) + ")");
}

}  // namespace berth::oci
