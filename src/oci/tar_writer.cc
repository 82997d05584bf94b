#include "oci/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

namespace berth::oci {

struct TarWriter::Impl {
  Writer* out = nullptr;
  struct archive* archive = nullptr;
  // The first error the output Writer returned; reported in place of libarchive's message.
  std::optional<Error> write_error;
  // Set when the writer is destroyed unclosed: libarchive's own close then writes nothing.
  bool discard = false;
  bool closed = false;

  ~Impl() {
    if (archive != nullptr) {
      archive_write_free(archive);
    }
  }

  static la_ssize_t WriteCallback(struct archive* a, void* client, const void* buf, size_t len) {
    auto* self = static_cast<Impl*>(client);
    if (self->discard) {
      return static_cast<la_ssize_t>(len);
    }
    Result<> r = self->out->Write(std::string_view(static_cast<const char*>(buf), len));
    if (!r.ok()) {
      if (!self->write_error.has_value()) {
        self->write_error = std::move(r).error();
      }
      archive_set_error(a, EIO, "write failed");
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  Error Fail(std::string_view what) {
    if (write_error.has_value()) {
      return Error(*write_error).AddContext(std::string(what));
    }
    const char* msg = archive_error_string(archive);
    return Error::Internal(std::string(what) + ": " + (msg != nullptr ? msg : "libarchive error"));
  }

  Result<> WriteHeader(std::string_view path, mode_t type, int perm, int64_t size) {
    if (closed) {
      return Error::FailedPrecondition("tar: add after close");
    }
    struct archive_entry* entry = archive_entry_new();
    if (entry == nullptr) {
      return Error(ErrorCode::kResourceExhausted, "tar: out of memory");
    }
    std::string name(path);
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, type);
    archive_entry_set_perm(entry, static_cast<mode_t>(perm));
    archive_entry_set_size(entry, size);
    archive_entry_set_mtime(entry, 0, 0);
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    int rc = archive_write_header(archive, entry);
    archive_entry_free(entry);
    if (rc != ARCHIVE_OK) {
      return Fail("tar: writing header of " + name);
    }
    return {};
  }

  Result<> WriteData(std::string_view path, std::string_view data) {
    while (!data.empty()) {
      la_ssize_t n = archive_write_data(archive, data.data(), data.size());
      if (n <= 0) {
        return Fail("tar: writing " + std::string(path));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }
};

TarWriter::TarWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TarWriter::~TarWriter() {
  if (impl_ != nullptr && !impl_->closed) {
    impl_->discard = true;
  }
}

Result<std::unique_ptr<TarWriter>> TarWriter::Create(Writer& out) {
  auto impl = std::make_unique<Impl>();
  impl->out = &out;
  impl->archive = archive_write_new();
  if (impl->archive == nullptr) {
    return Error(ErrorCode::kResourceExhausted, "tar: out of memory");
  }
  if (archive_write_set_format_pax_restricted(impl->archive) != ARCHIVE_OK) {
    return impl->Fail("tar: setting the format");
  }
  if (archive_write_open(impl->archive, impl.get(), nullptr, &Impl::WriteCallback, nullptr) !=
      ARCHIVE_OK) {
    return impl->Fail("tar: opening");
  }
  return std::unique_ptr<TarWriter>(new TarWriter(std::move(impl)));
}

Result<> TarWriter::AddDirectory(std::string_view path) {
  std::string name(path);
  if (name.empty() || name.back() != '/') {
    name += '/';
  }
  return impl_->WriteHeader(name, AE_IFDIR, 0755, 0);
}

Result<> TarWriter::AddFile(std::string_view path, std::string_view data) {
  BERTH_TRY(impl_->WriteHeader(path, AE_IFREG, 0644, static_cast<int64_t>(data.size())));
  return impl_->WriteData(path, data);
}

Result<> TarWriter::AddFile(std::string_view path, uint64_t size, Reader& data) {
  BERTH_TRY(impl_->WriteHeader(path, AE_IFREG, 0644, static_cast<int64_t>(size)));
  std::vector<char> buf(kDefaultBufferSize);
  uint64_t done = 0;
  while (done < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    size_t n = BERTH_TRY(data.Read(buf.data(), want));
    if (n == 0) {
      return Error::DataLoss("tar: " + std::string(path) + ": source ended after " +
                             std::to_string(done) + " of " + std::to_string(size) + " bytes");
    }
    BERTH_TRY(impl_->WriteData(path, std::string_view(buf.data(), n)));
    done += n;
  }
  char extra = 0;
  size_t n = BERTH_TRY(data.Read(&extra, 1));
  if (n != 0) {
    return Error::DataLoss("tar: " + std::string(path) + ": source has more than " +
                           std::to_string(size) + " bytes");
  }
  return {};
}

Result<> TarWriter::Close() {
  if (impl_->closed) {
    return {};
  }
  impl_->closed = true;
  if (archive_write_close(impl_->archive) != ARCHIVE_OK) {
    return impl_->Fail("tar: finishing the archive");
  }
  return {};
}

}  // namespace berth::oci
