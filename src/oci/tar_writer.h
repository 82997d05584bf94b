// TarWriter: a streaming, deterministic tar writer for image archives (internal to berth::oci).
//
// Writes PAX-restricted tar (plain ustar unless a name or size needs an extended header) through
// libarchive into a berth Writer. Entries carry fixed metadata (mtime 0, uid/gid 0, no owner
// names, 0644 files, 0755 directories) so the same content always makes the same archive.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/io.h"
#include "base/result.h"

namespace berth::oci {

class TarWriter {
 public:
  // `out` is borrowed and must outlive the TarWriter; Close() does not close it.
  static Result<std::unique_ptr<TarWriter>> Create(Writer& out);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  // Abandoning a writer without Close() leaves the archive unterminated (nothing more is
  // written to `out`).
  ~TarWriter();

  Result<> AddDirectory(std::string_view path);
  Result<> AddFile(std::string_view path, std::string_view data);
  // Streams exactly `size` bytes from `data`, then reads once more expecting the end of the
  // stream (so a VerifyingReader gets to check its digest). DataLoss when the reader yields
  // fewer or more bytes.
  Result<> AddFile(std::string_view path, uint64_t size, Reader& data);
  // Writes the end-of-archive blocks.
  Result<> Close();

 private:
  struct Impl;
  explicit TarWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::oci
