#include "images/import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <memory>
#include <random>
#include <vector>

#include "archive/export.h"
#include "base/unique_fd.h"
#include "content/lease.h"
#include "digest/hashing_writer.h"
#include "oci/media_types.h"
#include "os/file.h"

namespace berth::images {
namespace {

constexpr std::string_view kCreatedBy = "berth image import";
constexpr std::string_view kWhiteoutPrefix = ".wh.";
// Long enough for the largest import to finish; short enough that a crashed import does not pin
// its blobs for long.
constexpr std::chrono::hours kImportLeaseTtl{24};

// libarchive converts names through the thread's locale; in the plain C locale non-ASCII names
// fail that conversion, under C.UTF-8 they pass through. Affects only this thread.
class Utf8LocaleScope {
 public:
  Utf8LocaleScope() {
    static locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
    if (utf8 != nullptr) {
      previous_ = uselocale(utf8);
    }
  }
  Utf8LocaleScope(const Utf8LocaleScope&) = delete;
  Utf8LocaleScope& operator=(const Utf8LocaleScope&) = delete;
  Utf8LocaleScope(Utf8LocaleScope&&) = delete;
  Utf8LocaleScope& operator=(Utf8LocaleScope&&) = delete;
  ~Utf8LocaleScope() {
    if (previous_ != nullptr) {
      uselocale(previous_);
    }
  }

 private:
  locale_t previous_ = nullptr;
};

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

// Where libarchive's writer sends its bytes: a berth Writer, with the first error kept.
struct WriteTarget {
  Writer* out = nullptr;
  std::optional<Error> error;
  // Set once the tar failed, so that libarchive's trailer on free does not reach `out`.
  bool discard = false;

  static la_ssize_t Callback(struct archive* /*a*/, void* client, const void* buf, size_t size) {
    auto* self = static_cast<WriteTarget*>(client);
    if (self->discard) {
      return static_cast<la_ssize_t>(size);
    }
    Result<> r = self->out->Write(std::string_view(static_cast<const char*>(buf), size));
    if (!r.ok()) {
      self->error = std::move(r).error();
      return -1;
    }
    return static_cast<la_ssize_t>(size);
  }
};

Error ArchiveError(struct archive* a, ErrorCode code, const std::string& what) {
  const char* msg = archive_error_string(a);
  return Error(code, what + ": " + (msg != nullptr ? msg : "libarchive error"));
}

// `raw` relative to the root, without "./", empty components or a trailing "/"; "" for the root
// itself. InvalidArgument for a ".." component, which could reach outside the root.
Result<std::string> CleanPath(std::string_view raw, std::string_view what) {
  std::string out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t end = raw.find('/', pos);
    if (end == std::string_view::npos) {
      end = raw.size();
    }
    std::string_view part = raw.substr(pos, end - pos);
    if (part == "..") {
      return Error::InvalidArgument("refusing tar entry: " + std::string(what) + " \"" +
                                    std::string(raw) + "\" has a \"..\" component");
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) {
        out += '/';
      }
      out += part;
    }
    pos = end + 1;
  }
  return out;
}

// Copies the tar read from `fd` (any compression libarchive reads) to `out` as a canonical
// layer tar; see Import() for the rules.
Result<> RewriteTar(const Context& ctx, int fd, const std::string& source_name, Writer& out,
                    std::optional<int64_t> source_date_epoch) {
  Utf8LocaleScope locale;
  std::unique_ptr<struct archive, ReadFree> in(archive_read_new());
  std::unique_ptr<struct archive, WriteFree> tar(archive_write_new());
  if (!in || !tar) {
    return Error(ErrorCode::kResourceExhausted, "libarchive: out of memory");
  }
  WriteTarget target{.out = &out};
  // Mark the output discarded unless the tar completes, before `tar` is freed (declared after).
  struct DiscardGuard {
    WriteTarget& target;
    bool done = false;
    ~DiscardGuard() { target.discard = !done; }
  } guard{target};

  if (archive_read_support_filter_all(in.get()) != ARCHIVE_OK ||
      archive_read_support_format_tar(in.get()) != ARCHIVE_OK ||
      archive_read_open_fd(in.get(), fd, kDefaultBufferSize) != ARCHIVE_OK) {
    return ArchiveError(in.get(), ErrorCode::kInvalidArgument, "reading " + source_name);
  }
  // The same tar dialect as archive::WriteLayerTar: ustar headers, PAX records only where
  // needed, xattrs as SCHILY.xattr.*, no block padding.
  if (archive_write_set_format_pax_restricted(tar.get()) != ARCHIVE_OK ||
      archive_write_set_format_option(tar.get(), "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(tar.get(), 0) != ARCHIVE_OK ||
      archive_write_open2(tar.get(), &target, nullptr, &WriteTarget::Callback, nullptr, nullptr) !=
          ARCHIVE_OK) {
    return ArchiveError(tar.get(), ErrorCode::kInternal, "setting up the layer tar writer");
  }
  auto write_error = [&](const std::string& what) -> Error {
    if (target.error) {
      return *target.error;
    }
    return ArchiveError(tar.get(), ErrorCode::kInternal, what);
  };

  std::vector<char> buf(kDefaultBufferSize);
  for (;;) {
    BERTH_TRY(ctx.Check());
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r < ARCHIVE_WARN) {
      return ArchiveError(in.get(), ErrorCode::kInvalidArgument, "reading " + source_name);
    }
    const char* raw_name = archive_entry_pathname(entry);
    if (raw_name == nullptr) {
      return Error::InvalidArgument("reading " + source_name + ": an entry has no readable name");
    }
    std::string name = BERTH_TRY(CleanPath(raw_name, "path"));
    if (name.empty()) {
      continue;  // the root directory itself is not an entry of a layer
    }
    std::string_view base = name;
    if (size_t slash = base.rfind('/'); slash != std::string_view::npos) {
      base = base.substr(slash + 1);
    }
    if (base.starts_with(kWhiteoutPrefix)) {
      return Error::InvalidArgument("refusing tar entry \"" + std::string(raw_name) +
                                    "\": a whiteout has no meaning in an imported root "
                                    "filesystem");
    }
    archive_entry_copy_pathname(entry, name.c_str());
    bool hardlink = false;
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      std::string clean = BERTH_TRY(CleanPath(link, "hard link target"));
      if (clean.empty()) {
        return Error::InvalidArgument("refusing tar entry \"" + std::string(raw_name) +
                                      "\": a hard link to the root directory");
      }
      archive_entry_copy_hardlink(entry, clean.c_str());
      archive_entry_set_size(entry, 0);
      hardlink = true;
    }
    // Reproducible headers: whole-second mtimes clamped to SOURCE_DATE_EPOCH, no atime, ctime or
    // birth time, no ACLs or file flags (which layers cannot carry), holes written out.
    int64_t mtime = archive_entry_mtime(entry);
    if (source_date_epoch && mtime > *source_date_epoch) {
      mtime = *source_date_epoch;
    }
    archive_entry_set_mtime(entry, mtime, 0);
    archive_entry_unset_atime(entry);
    archive_entry_unset_ctime(entry);
    archive_entry_unset_birthtime(entry);
    archive_entry_acl_clear(entry);
    archive_entry_set_fflags(entry, 0, 0);
    archive_entry_sparse_clear(entry);

    if (archive_write_header(tar.get(), entry) < ARCHIVE_WARN) {
      return write_error("writing the header of " + name);
    }
    if (!hardlink && archive_entry_filetype(entry) == AE_IFREG) {
      for (;;) {
        la_ssize_t n = archive_read_data(in.get(), buf.data(), buf.size());
        if (n < 0) {
          return ArchiveError(in.get(), ErrorCode::kDataLoss,
                              "reading " + source_name + ": " + name);
        }
        if (n == 0) {
          break;
        }
        if (archive_write_data(tar.get(), buf.data(), static_cast<size_t>(n)) != n) {
          return write_error("writing " + name);
        }
      }
    }
    if (archive_write_finish_entry(tar.get()) < ARCHIVE_WARN) {
      return write_error("writing " + name);
    }
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) {
    return write_error("finishing the layer tar");
  }
  guard.done = true;
  return {};
}

struct LayerInfo {
  digest::Digest diff_id;
  digest::Digest blob;
  uint64_t uncompressed_size = 0;
  uint64_t size = 0;
};

// Writes the layer of `source` through ingest `ref` and commits it (already present counts).
// On error the ingest may remain: the caller aborts it.
Result<LayerInfo> WriteLayer(const Context& ctx, content::Store& content, const std::string& source,
                             const ImportOptions& options, const std::string& lease,
                             const std::string& ref) {
  std::unique_ptr<content::Writer> ingest =
      BERTH_TRY(content.OpenWriter(ctx, {.ref = ref, .lease = lease}));
  LayerInfo info;
  struct stat st {};
  bool is_dir = false;
  if (source != "-") {
    if (stat(source.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return Error::NotFound("no such file or directory");  // the caller names `source`
      }
      return Error::FromErrno("stat " + source, errno);
    }
    is_dir = S_ISDIR(st.st_mode);
  }
  if (is_dir) {
    archive::ExportOptions export_options;
    export_options.tar.source_date_epoch = options.source_date_epoch;
    export_options.compression = options.compression;
    archive::ExportedLayer layer =
        BERTH_TRY(archive::ExportLayer(ctx, source, *ingest, export_options));
    info = {.diff_id = layer.diff_id,
            .blob = layer.blob_digest,
            .uncompressed_size = layer.uncompressed_size,
            .size = layer.compressed_size};
  } else {
    UniqueFd owned;
    int fd = STDIN_FILENO;
    if (source != "-") {
      owned = BERTH_TRY(os::Open(source, O_RDONLY));
      fd = owned.get();
    }
    std::unique_ptr<Writer> compressor =
        BERTH_TRY(compress::NewWriter(options.compression, *ingest));
    digest::HashingWriter diff(*compressor);
    BERTH_TRY(RewriteTar(ctx, fd, source == "-" ? "standard input" : source, diff,
                         options.source_date_epoch));
    BERTH_TRY(diff.Close());
    BERTH_TRY(compressor->Close());
    info = {.diff_id = diff.digest(),
            .blob = ingest->digest(),
            .uncompressed_size = diff.bytes(),
            .size = ingest->offset()};
  }
  Result<> committed = ingest->Commit(ctx, info.size, info.blob);
  if (!committed.ok() && committed.error().code() != ErrorCode::kAlreadyExists) {
    return std::move(committed).error().AddContext("storing the layer");
  }
  return info;
}

std::string_view LayerMediaType(compress::Format format) {
  switch (format) {
    case compress::Format::kGzip:
      return oci::kMediaTypeImageLayerGzip;
    case compress::Format::kZstd:
      return oci::kMediaTypeImageLayerZstd;
    case compress::Format::kNone:
      break;
  }
  return oci::kMediaTypeImageLayer;
}

// Stores a small document under the lease and returns its descriptor.
Result<oci::Descriptor> StoreDocument(const Context& ctx, content::Store& content,
                                      std::string_view media_type, const std::string& data,
                                      const std::string& lease) {
  oci::Descriptor desc = oci::DescribeBlob(media_type, data);
  StringReader reader(data);
  BERTH_TRY(content::WriteBlob(ctx, content, reader,
                               {.ref = "import-" + desc.digest.hex(),
                                .expected = desc.digest,
                                .expected_size = static_cast<uint64_t>(desc.size),
                                .lease = lease}));
  return desc;
}

// A fresh ingest name: the layer's digest is not known until it is written.
std::string IngestRef() {
  std::random_device random;
  std::string seed =
      std::to_string(getpid()) + "/" + std::to_string(random()) + "/" + std::to_string(random());
  return "import-layer-" + digest::FromBytes(seed).hex().substr(0, 24);
}

}  // namespace

std::string FormatRfc3339(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

Result<ImportResult> Import(const Context& ctx, content::Store& content, Store& images,
                            const std::string& source, std::string_view name,
                            const ImportOptions& options) {
  std::string normalized = BERTH_TRY(NormalizeName(name));
  if (normalized.find('@') != std::string::npos) {
    return Error::InvalidArgument("image name " + std::string(name) +
                                  ": an import is named by a tag, not a digest");
  }
  platform::Platform image_platform =
      platform::Normalize(options.platform.value_or(platform::HostPlatform()));
  if (image_platform.os.empty() || image_platform.architecture.empty()) {
    return Error::InvalidArgument("platform \"" + image_platform.ToString() +
                                  "\": needs an os and an architecture");
  }

  content::ScopedLease lease = BERTH_TRY(content::ScopedLease::Create(
      ctx, content.leases(), {.ttl = std::chrono::seconds(kImportLeaseTtl)}));
  std::string ref = IngestRef();
  Result<LayerInfo> written = WriteLayer(ctx, content, source, options, lease.id(), ref);
  if (!written.ok()) {
    (void)content.Abort(ctx, ref);  // best effort: GC removes a stale ingest anyway
    return std::move(written).error().AddContext("importing " + source);
  }
  LayerInfo layer = *written;

  std::string created;
  if (options.source_date_epoch) {
    created = FormatRfc3339(*options.source_date_epoch);
  } else {
    created = FormatRfc3339(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  }

  oci::ImageConfig config;
  config.created = created;
  config.architecture = image_platform.architecture;
  config.os = image_platform.os;
  config.variant = image_platform.variant;
  config.config.cmd = options.cmd;
  config.config.entrypoint = options.entrypoint;
  config.config.env = options.env;
  config.config.working_dir = options.working_dir;
  config.config.user = options.user;
  config.rootfs.diff_ids = {layer.diff_id};
  config.history = {
      {.created = created, .created_by = std::string(kCreatedBy), .comment = options.comment}};
  oci::Descriptor config_desc = BERTH_TRY_CONTEXT(
      StoreDocument(ctx, content, oci::kMediaTypeImageConfig, oci::Serialize(config), lease.id()),
      "storing the image config");

  oci::Manifest manifest;
  manifest.media_type = std::string(oci::kMediaTypeImageManifest);
  manifest.config = config_desc;
  oci::Descriptor layer_desc{.media_type = std::string(LayerMediaType(options.compression)),
                             .digest = layer.blob,
                             .size = static_cast<int64_t>(layer.size)};
  manifest.layers = {layer_desc};
  oci::Descriptor manifest_desc =
      BERTH_TRY_CONTEXT(StoreDocument(ctx, content, oci::kMediaTypeImageManifest,
                                      oci::Serialize(manifest), lease.id()),
                        "storing the image manifest");
  manifest_desc.platform = oci::Platform{image_platform};

  Image image = BERTH_TRY(images.Put(ctx, normalized, manifest_desc));
  // The name protects the blobs from here on; the lease goes when `lease` does.
  return ImportResult{.image = std::move(image),
                      .config = config_desc,
                      .layer = layer_desc,
                      .diff_id = layer.diff_id,
                      .uncompressed_size = layer.uncompressed_size};
}

}  // namespace berth::images
