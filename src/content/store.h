// The content store: content-addressed blobs (layers, manifests, configs) and their ingestion.
//
// Modelled on containerd's content.Store, which is three roles in one interface:
//   Provider  - Info, Exists, OpenReader: read committed blobs by digest;
//   Ingester  - OpenWriter, ListIngests, Abort: write new blobs through a named ingest (a "ref")
//               that is verified and committed atomically;
//   Manager   - Walk, Delete, and (berth's addition) leases and garbage collection.
//
// Committed content is immutable and identified by its digest alone. Writers verify size and
// digest before committing; a mismatch stores nothing. Two writers of the same content may race:
// the first commit wins, the second gets AlreadyExists, which callers treat as success (as in
// containerd; WriteBlob() does so).
//
// Garbage collection deletes blobs that no lease and no caller-supplied root references. To
// keep a blob it is about to use or write, a caller adds it to a lease first (or commits with
// WriterOptions::lease): GC honours a lease resource from the moment AddResource returns or the
// commit completes, and never sees half of either.
//
// All methods of Store and LeaseManager are thread-safe. Readers and Writers they return are
// not: use each from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "content/lease.h"
#include "digest/digest.h"

namespace berth::content {

using Digest = digest::Digest;
using Time = std::chrono::system_clock::time_point;

// What the store knows about a committed blob.
struct Info {
  Digest digest;
  uint64_t size = 0;
  Time created_at;
  Time updated_at;
};

// The progress of an ingest.
struct Status {
  std::string ref;
  uint64_t offset = 0;  // Bytes written so far.
  std::optional<Digest> expected;
  std::optional<uint64_t> expected_size;
  Time started_at;
  Time updated_at;
};

// A committed blob opened for reading. Read() streams from the start; ReadAt() reads anywhere
// and does not disturb Read()'s position.
class BlobReader : public Reader, public ReaderAt {};

// Writes one ingest. Obtained from Store::OpenWriter, which locks the ref: while this writer
// lives, no other writer can open the same ref. Not thread-safe.
class Writer : public berth::Writer {
 public:
  // Appends to the ingest.
  Result<> Write(std::string_view data) override = 0;

  // Verifies and commits the ingest as a blob, then releases the ref. `size` and `expected`
  // default to the values given in WriterOptions; each is checked when known.
  // Returns:
  //   Ok             - the blob is committed (and added to the writer's lease, if any);
  //   AlreadyExists  - the blob was already there (someone else committed it); it is added to
  //                    the lease, the ingest is discarded, and callers treat this as success;
  //   InvalidArgument- size or digest differ from what was expected: the ingest is discarded
  //                    and nothing is stored;
  //   FailedPrecondition - the writer was already committed or closed.
  // Any other error (I/O) leaves the ingest in place for a retry or for cleanup.
  virtual Result<> Commit(const Context& ctx, std::optional<uint64_t> size = std::nullopt,
                          std::optional<Digest> expected = std::nullopt) = 0;

  // Releases the ref without committing: the bytes written so far stay in the ingest, and a
  // later OpenWriter with the same ref resumes after them. (Store::Abort discards them.) The
  // destructor does the same if neither Commit() nor Close() was called.
  Result<> Close() override = 0;

  // The digest of the bytes written so far.
  virtual Digest digest() const = 0;
  // The number of bytes written so far (including those of a resumed ingest).
  virtual uint64_t offset() const = 0;
  virtual const std::string& ref() const = 0;
};

struct WriterOptions {
  // Names the ingest; the same ref resumes an ingest left by a closed writer. Refs are chosen by
  // callers, e.g. "layer-<diffid>" or "upload-<uuid>". Must be non-empty.
  std::string ref;
  // When known, checked at Commit (and the digest used to detect already-present content).
  std::optional<Digest> expected;
  std::optional<uint64_t> expected_size;
  // When set, the committed digest is added to this lease atomically with respect to GC.
  std::string lease;
};

struct GcOptions {
  // Ingests not written to for this long, and not open in a writer, are removed.
  std::chrono::seconds ingest_max_age = std::chrono::hours(24);
};

struct GcStats {
  size_t blobs_removed = 0;
  uint64_t bytes_removed = 0;
  size_t ingests_removed = 0;
  size_t leases_expired = 0;
};

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) = delete;
  Store& operator=(Store&&) = delete;
  virtual ~Store() = default;

  // --- Provider
  // NotFound if `digest` is not committed.
  virtual Result<content::Info> Info(const Context& ctx, const Digest& digest) = 0;
  virtual Result<bool> Exists(const Context& ctx, const Digest& digest) = 0;
  // Opens a committed blob. NotFound if absent. The reader stays valid even if the blob is
  // deleted or collected meanwhile.
  virtual Result<std::unique_ptr<BlobReader>> OpenReader(const Context& ctx,
                                                         const Digest& digest) = 0;

  // --- Ingester
  // Opens (or resumes) the ingest `options.ref`. Unavailable if another writer holds the ref;
  // InvalidArgument for an empty ref; NotFound if `options.lease` does not exist.
  // AlreadyExists if `options.expected` is already committed (as in containerd): the blob is
  // then added to `options.lease`, and the caller skips writing it.
  // The writer must not outlive the store.
  virtual Result<std::unique_ptr<Writer>> OpenWriter(const Context& ctx,
                                                     const WriterOptions& options) = 0;
  virtual Result<std::vector<Status>> ListIngests(const Context& ctx) = 0;
  // Discards the ingest `ref`. NotFound if there is none; Unavailable if a writer holds it.
  virtual Result<> Abort(const Context& ctx, const std::string& ref) = 0;

  // --- Manager
  // Calls `fn` for every committed blob, in no particular order, until it returns an error
  // (which Walk returns).
  virtual Result<> Walk(const Context& ctx,
                        const std::function<Result<>(const content::Info&)>& fn) = 0;
  // Deletes a committed blob at once, whatever references it. NotFound if absent.
  virtual Result<> Delete(const Context& ctx, const Digest& digest) = 0;

  virtual LeaseManager& leases() = 0;
  // Removes expired leases, then every blob that is neither in `roots` nor a resource of a
  // lease, and stale ingests (see GcOptions). Removal may be lazy (see the implementation):
  // removed blobs are gone from Info/Exists/Walk when this returns.
  virtual Result<GcStats> GarbageCollect(const Context& ctx, const std::set<Digest>& roots,
                                         const GcOptions& options = {}) = 0;
};

// Writes all of `src` as a blob through ingest `options.ref` and commits it; AlreadyExists
// (at open or at commit) counts as success, and then `src` may be left unread. Returns the
// blob's digest.
Result<Digest> WriteBlob(const Context& ctx, Store& store, Reader& src,
                         const WriterOptions& options);
// Reads a whole blob into memory. For small blobs only (manifests, configs); ResourceExhausted
// above `limit` bytes.
Result<std::string> ReadBlob(const Context& ctx, Store& store, const Digest& digest,
                             size_t limit = size_t{16} << 20);

}  // namespace berth::content
