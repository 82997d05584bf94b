// Streaming I/O interfaces shared across berth: Reader, ReaderAt and Writer.
//
// Layers move bytes through chains of these (tar -> compress -> hash -> content store) in one
// pass through reused buffers, never staging a whole blob in memory. The interfaces are the Go
// io.Reader / io.ReaderAt / io.WriteCloser shapes, returning Result instead of (n, err).
//
// Wrappers (a compressing Writer, a hashing Writer) borrow the Reader or Writer they wrap: the
// wrapped object must outlive the wrapper, and a wrapper's Close() finishes only its own
// stream (a gzip trailer, say), never the one it wraps. Whoever owns an object closes it.
//
// None of the classes here is thread-safe: one stream, one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth {

// A source of bytes read in order.
class Reader {
 public:
  Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  Reader(Reader&&) = delete;
  Reader& operator=(Reader&&) = delete;
  virtual ~Reader() = default;

  // Reads up to `size` bytes into `buf` and returns how many it read. Returns 0 only at the end
  // of the stream (or when `size` is 0); a short count does not mean the end. Errors carry the
  // code of the underlying failure (DataLoss for corrupt or truncated encoded input).
  virtual Result<size_t> Read(char* buf, size_t size) = 0;
};

// Random access to a fixed-size sequence of bytes, e.g. a committed blob. Implementations that
// use pread(2) may be called from several threads at once; the interface itself promises nothing.
class ReaderAt {
 public:
  ReaderAt() = default;
  ReaderAt(const ReaderAt&) = delete;
  ReaderAt& operator=(const ReaderAt&) = delete;
  ReaderAt(ReaderAt&&) = delete;
  ReaderAt& operator=(ReaderAt&&) = delete;
  virtual ~ReaderAt() = default;

  // Reads up to `size` bytes at `offset`. Returns 0 at or past the end; a short count before the
  // end is allowed (call again). Never moves any shared offset.
  virtual Result<size_t> ReadAt(char* buf, size_t size, uint64_t offset) = 0;
  // The total number of bytes.
  virtual uint64_t size() const = 0;
};

// A sink of bytes.
class Writer {
 public:
  Writer() = default;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  Writer(Writer&&) = delete;
  Writer& operator=(Writer&&) = delete;
  virtual ~Writer() = default;

  // Writes all of `data` or fails. After an error the stream is in an unspecified state and the
  // only sensible call left is the destructor (or an owner-level abort).
  virtual Result<> Write(std::string_view data) = 0;
  // Finishes the stream (flushes buffers, writes trailers, closes an owned descriptor). Calling
  // it again is a no-op returning Ok. Write() after Close() returns FailedPrecondition.
  // Destroying a Writer without Close() drops what it buffered: the stream stays incomplete.
  virtual Result<> Close() = 0;
};

// Reads with read(2) from a descriptor, from its current offset.
class FdReader final : public Reader {
 public:
  // Borrows `fd`: the caller keeps it open while this reader is in use.
  explicit FdReader(int fd) : fd_(fd) {}
  // Owns `fd` and closes it on destruction.
  explicit FdReader(UniqueFd fd) : owned_(std::move(fd)), fd_(owned_.get()) {}

  Result<size_t> Read(char* buf, size_t size) override;

 private:
  UniqueFd owned_;
  int fd_;
};

// Writes with write(2) to a descriptor, retrying short writes and EINTR.
class FdWriter final : public Writer {
 public:
  // Borrows `fd`: Close() does not close it.
  explicit FdWriter(int fd) : fd_(fd) {}
  // Owns `fd`: Close() closes it and reports close(2)'s error.
  explicit FdWriter(UniqueFd fd) : owned_(std::move(fd)), fd_(owned_.get()) {}

  Result<> Write(std::string_view data) override;
  Result<> Close() override;

 private:
  UniqueFd owned_;
  int fd_;
  bool closed_ = false;
};

// Reads from a string it owns. For tests and small in-memory documents.
class StringReader final : public Reader {
 public:
  explicit StringReader(std::string data) : data_(std::move(data)) {}

  Result<size_t> Read(char* buf, size_t size) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Reads bytes someone else owns; they must outlive the reader.
class ViewReader final : public Reader {
 public:
  explicit ViewReader(std::string_view data) : data_(data) {}

  Result<size_t> Read(char* buf, size_t size) override;

 private:
  std::string_view data_;
};

// Appends to a string it owns. For tests and small in-memory documents.
class StringWriter final : public Writer {
 public:
  Result<> Write(std::string_view data) override;
  Result<> Close() override;

  const std::string& data() const { return data_; }
  bool closed() const { return closed_; }
  // Moves the collected bytes out.
  std::string Take() { return std::move(data_); }

 private:
  std::string data_;
  bool closed_ = false;
};

// Accepts and drops everything, counting the bytes. For benchmarks and hash-only pipelines.
class DiscardWriter final : public Writer {
 public:
  Result<> Write(std::string_view data) override;
  Result<> Close() override { return {}; }

  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

// A Reader over [offset, offset + length) of a ReaderAt, which it borrows.
class SectionReader final : public Reader {
 public:
  SectionReader(ReaderAt& source, uint64_t offset, uint64_t length)
      : source_(source), pos_(offset), end_(offset + length) {}

  Result<size_t> Read(char* buf, size_t size) override;

 private:
  ReaderAt& source_;
  uint64_t pos_;
  uint64_t end_;
};

// The buffer size Copy() uses and the streaming components default to: large enough to keep
// syscalls and codec calls rare, small enough to stay in L2 cache.
inline constexpr size_t kDefaultBufferSize = size_t{256} * 1024;

// Copies `src` to `dst` until src ends, through `buf` (reused, so a caller moving many streams
// allocates once). Returns the number of bytes copied. Does not Close() `dst`.
// REQUIRES: !buf.empty().
Result<uint64_t> Copy(Writer& dst, Reader& src, std::span<char> buf);
// As above with a buffer of kDefaultBufferSize allocated for this call.
Result<uint64_t> Copy(Writer& dst, Reader& src);

// Reads until `size` bytes arrived or the stream ended; returns the count (less than `size` only
// at the end of the stream).
Result<size_t> ReadFull(Reader& src, char* buf, size_t size);

// Reads the rest of `src` into a string. Only for inputs known to be small; fails with
// ResourceExhausted once more than `limit` bytes arrive.
Result<std::string> ReadAll(Reader& src, size_t limit = size_t{64} << 20);

}  // namespace berth
