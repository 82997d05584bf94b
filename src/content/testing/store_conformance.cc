#include "content/testing/store_conformance.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "digest/digest.h"

namespace berth::content::testing {

void StoreConformanceTest::SetUp() {
  char tmpl[] = "/tmp/berth-content-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  Result<std::unique_ptr<Store>> store = GetParam().make(dir_);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  store_ = std::move(store).value();
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  if (!dir_.empty()) {
    // Committed blobs are read-only files; their directory is writable, so rm -rf copes.
    (void)::system(("rm -rf " + dir_).c_str());
  }
}

Digest StoreConformanceTest::Put(const std::string& data, const std::string& ref) {
  StringReader src(data);
  WriterOptions options;
  options.ref = ref.empty() ? "put-" + digest::FromBytes(data).hex() : ref;
  Result<Digest> d = WriteBlob(ctx_, *store_, src, options);
  EXPECT_TRUE(d.ok()) << d.error().ToString();
  return d.ok() ? *d : Digest();
}

namespace {

std::string Blob(size_t size, char seed) {
  std::string s(size, '\0');
  uint32_t x = static_cast<unsigned char>(seed) * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

std::set<Digest> AllBlobs(const Context& ctx, Store& store) {
  std::set<Digest> all;
  Result<> r = store.Walk(ctx, [&](const Info& info) -> Result<> {
    all.insert(info.digest);
    return {};
  });
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return all;
}

WriterOptions Ref(std::string ref) {
  WriterOptions o;
  o.ref = std::move(ref);
  return o;
}

#define ASSERT_OK(expr)                                                                           \
  do {                                                                                            \
    const auto& assert_ok_result_ = (expr);                                                       \
    ASSERT_TRUE(assert_ok_result_.ok()) << #expr << ": " << assert_ok_result_.error().ToString(); \
  } while (0)

#define EXPECT_CODE(expr, want)                                       \
  do {                                                                \
    const auto& expect_code_result_ = (expr);                         \
    EXPECT_FALSE(expect_code_result_.ok()) << #expr << " succeeded";  \
    if (!expect_code_result_.ok()) {                                  \
      EXPECT_EQ(expect_code_result_.error().code(), want)             \
          << #expr << ": " << expect_code_result_.error().ToString(); \
    }                                                                 \
  } while (0)

}  // namespace

TEST_P(StoreConformanceTest, IngestReadInfoDelete) {
  std::string data = Blob(300'000, 'a');
  Digest want = digest::FromBytes(data);
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("ingest-1"));
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write(std::string_view(data).substr(0, 1000)));
  ASSERT_OK((*w)->Write(std::string_view(data).substr(1000)));
  EXPECT_EQ((*w)->offset(), data.size());
  EXPECT_EQ((*w)->digest(), want);
  EXPECT_FALSE(*store_->Exists(ctx_, want));  // Not before the commit.
  ASSERT_OK((*w)->Commit(ctx_, data.size(), want));

  Result<Info> info = store_->Info(ctx_, want);
  ASSERT_OK(info);
  EXPECT_EQ(info->digest, want);
  EXPECT_EQ(info->size, data.size());
  EXPECT_TRUE(*store_->Exists(ctx_, want));

  Result<std::string> read = ReadBlob(ctx_, *store_, want);
  ASSERT_OK(read);
  EXPECT_TRUE(*read == data);

  Result<std::unique_ptr<BlobReader>> r = store_->OpenReader(ctx_, want);
  ASSERT_OK(r);
  EXPECT_EQ((*r)->size(), data.size());
  char buf[100];
  Result<size_t> n = (*r)->ReadAt(buf, sizeof(buf), 123'456);
  ASSERT_OK(n);
  ASSERT_GT(*n, 0u);
  EXPECT_EQ(std::string(buf, *n), data.substr(123'456, *n));
  EXPECT_EQ(*(*r)->ReadAt(buf, sizeof(buf), data.size()), 0u);
  // ReadAt does not disturb sequential reads.
  Result<std::string> seq = ReadAll(**r);
  ASSERT_OK(seq);
  EXPECT_TRUE(*seq == data);

  EXPECT_EQ(AllBlobs(ctx_, *store_), std::set<Digest>{want});
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());

  ASSERT_OK(store_->Delete(ctx_, want));
  EXPECT_FALSE(*store_->Exists(ctx_, want));
  EXPECT_CODE(store_->Info(ctx_, want), ErrorCode::kNotFound);
  EXPECT_CODE(store_->Delete(ctx_, want), ErrorCode::kNotFound);
  // A reader opened before the delete still reads the content.
  char first[10];
  EXPECT_EQ(*(*r)->ReadAt(first, sizeof(first), 0), sizeof(first));
  EXPECT_EQ(std::string(first, 10), data.substr(0, 10));
}

TEST_P(StoreConformanceTest, MissingContentIsNotFound) {
  Digest missing = digest::FromBytes("never stored");
  EXPECT_CODE(store_->Info(ctx_, missing), ErrorCode::kNotFound);
  EXPECT_CODE(store_->OpenReader(ctx_, missing), ErrorCode::kNotFound);
  EXPECT_CODE(store_->Delete(ctx_, missing), ErrorCode::kNotFound);
  Result<bool> exists = store_->Exists(ctx_, missing);
  ASSERT_OK(exists);
  EXPECT_FALSE(*exists);
  EXPECT_CODE(store_->Abort(ctx_, "no-such-ref"), ErrorCode::kNotFound);
  EXPECT_CODE(store_->OpenWriter(ctx_, Ref("")), ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, EmptyBlob) {
  Digest d = Put("");
  EXPECT_EQ(d.ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(store_->Info(ctx_, d)->size, 0u);
  EXPECT_EQ(*ReadBlob(ctx_, *store_, d), "");
}

TEST_P(StoreConformanceTest, SizeMismatchStoresNothing) {
  std::string data = "twelve bytes";
  WriterOptions o = Ref("size-mismatch");
  o.expected_size = 13;
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write(data));
  EXPECT_CODE((*w)->Commit(ctx_), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(*store_->Exists(ctx_, digest::FromBytes(data)));
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
  EXPECT_TRUE(AllBlobs(ctx_, *store_).empty());
  // The writer is finished; the ref is free again and starts from scratch.
  EXPECT_CODE((*w)->Write("x"), ErrorCode::kFailedPrecondition);
  Result<std::unique_ptr<Writer>> again = store_->OpenWriter(ctx_, Ref("size-mismatch"));
  ASSERT_OK(again);
  EXPECT_EQ((*again)->offset(), 0u);
}

TEST_P(StoreConformanceTest, DigestMismatchStoresNothing) {
  std::string data = "the real content";
  Digest wrong = digest::FromBytes("something else");
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("digest-mismatch"));
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write(data));
  EXPECT_CODE((*w)->Commit(ctx_, data.size(), wrong), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(*store_->Exists(ctx_, digest::FromBytes(data)));
  EXPECT_FALSE(*store_->Exists(ctx_, wrong));
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
  EXPECT_TRUE(AllBlobs(ctx_, *store_).empty());

  // The expectation can come from the options too.
  WriterOptions o = Ref("digest-mismatch-2");
  o.expected = wrong;
  w = store_->OpenWriter(ctx_, o);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write(data));
  EXPECT_CODE((*w)->Commit(ctx_), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(AllBlobs(ctx_, *store_).empty());
}

TEST_P(StoreConformanceTest, CommitTwiceAndWriteAfterCommitFail) {
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("twice"));
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write("abc"));
  ASSERT_OK((*w)->Commit(ctx_));
  EXPECT_CODE((*w)->Commit(ctx_), ErrorCode::kFailedPrecondition);
  EXPECT_CODE((*w)->Write("d"), ErrorCode::kFailedPrecondition);
  ASSERT_OK((*w)->Close());
}

TEST_P(StoreConformanceTest, SecondCommitOfSameContentIsAlreadyExists) {
  Digest d = Put("same bytes", "first");
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("second"));
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write("same bytes"));
  EXPECT_CODE((*w)->Commit(ctx_), ErrorCode::kAlreadyExists);
  EXPECT_EQ(*ReadBlob(ctx_, *store_, d), "same bytes");
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
  // WriteBlob treats it as success.
  EXPECT_EQ(Put("same bytes", "third"), d);
}

TEST_P(StoreConformanceTest, OpenWriterForPresentContentIsAlreadyExists) {
  Digest d = Put("present");
  Result<Lease> lease = store_->leases().Create(ctx_);
  ASSERT_OK(lease);
  WriterOptions o = Ref("skip-me");
  o.expected = d;
  o.lease = lease->id;
  EXPECT_CODE(store_->OpenWriter(ctx_, o), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
  // The present blob joined the lease, so GC keeps it.
  EXPECT_EQ(*store_->leases().ListResources(ctx_, lease->id), std::vector<Digest>{d});
  ASSERT_OK(store_->GarbageCollect(ctx_, {}));
  EXPECT_TRUE(*store_->Exists(ctx_, d));
  // WriteBlob skips the upload and reports the digest.
  StringReader unread("present");
  Result<Digest> written = WriteBlob(ctx_, *store_, unread, o);
  ASSERT_OK(written);
  EXPECT_EQ(*written, d);
}

TEST_P(StoreConformanceTest, ConcurrentWritersOfSameContentAllSucceed) {
  std::string data = Blob(1 << 20, 'c');
  Digest want = digest::FromBytes(data);
  constexpr int kWriters = 8;
  std::atomic<int> committed{0};
  std::atomic<int> already{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<Writer>> w =
          store_->OpenWriter(ctx_, Ref("same-" + std::to_string(i)));
      if (!w.ok()) {
        ++failed;
        return;
      }
      for (size_t pos = 0; pos < data.size(); pos += 65536) {
        if (!(*w)->Write(std::string_view(data).substr(pos, 65536)).ok()) {
          ++failed;
          return;
        }
      }
      Result<> r = (*w)->Commit(ctx_, data.size(), want);
      if (r.ok()) {
        ++committed;
      } else if (r.error().code() == ErrorCode::kAlreadyExists) {
        ++already;
      } else {
        ADD_FAILURE() << r.error().ToString();
        ++failed;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(committed.load(), 1);
  EXPECT_EQ(committed.load() + already.load(), kWriters);
  Result<std::string> read = ReadBlob(ctx_, *store_, want, 2 << 20);
  ASSERT_OK(read);
  EXPECT_TRUE(*read == data);
  EXPECT_EQ(AllBlobs(ctx_, *store_), std::set<Digest>{want});
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
}

TEST_P(StoreConformanceTest, RefIsExclusiveAndResumable) {
  std::string data = Blob(200'000, 'r');
  WriterOptions o = Ref("resumable");
  o.expected = digest::FromBytes(data);
  o.expected_size = data.size();
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write(std::string_view(data).substr(0, 70'000)));
  // While the first writer lives, the ref is locked.
  EXPECT_CODE(store_->OpenWriter(ctx_, o), ErrorCode::kUnavailable);
  EXPECT_CODE(store_->Abort(ctx_, "resumable"), ErrorCode::kUnavailable);

  Result<std::vector<Status>> ingests = store_->ListIngests(ctx_);
  ASSERT_OK(ingests);
  ASSERT_EQ(ingests->size(), 1u);
  EXPECT_EQ((*ingests)[0].ref, "resumable");
  EXPECT_EQ((*ingests)[0].offset, 70'000u);
  EXPECT_EQ((*ingests)[0].expected, o.expected);
  EXPECT_EQ((*ingests)[0].expected_size, o.expected_size);

  ASSERT_OK((*w)->Close());
  w->reset();
  // Resuming continues after the bytes already written.
  Result<std::unique_ptr<Writer>> resumed = store_->OpenWriter(ctx_, o);
  ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->offset(), 70'000u);
  EXPECT_EQ((*resumed)->digest(), digest::FromBytes(data.substr(0, 70'000)));
  ASSERT_OK((*resumed)->Write(std::string_view(data).substr(70'000)));
  ASSERT_OK((*resumed)->Commit(ctx_));
  EXPECT_TRUE(*ReadBlob(ctx_, *store_, *o.expected) == data);
}

TEST_P(StoreConformanceTest, DestroyedWriterLeavesResumableIngest) {
  {
    Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("dropped"));
    ASSERT_OK(w);
    ASSERT_OK((*w)->Write("partial"));
  }
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("dropped"));
  ASSERT_OK(w);
  EXPECT_EQ((*w)->offset(), 7u);
  ASSERT_OK((*w)->Close());
  ASSERT_OK(store_->Abort(ctx_, "dropped"));
  EXPECT_TRUE(store_->ListIngests(ctx_)->empty());
  w = store_->OpenWriter(ctx_, Ref("dropped"));
  ASSERT_OK(w);
  EXPECT_EQ((*w)->offset(), 0u);
}

TEST_P(StoreConformanceTest, RefsMayHoldAnyCharacters) {
  for (const std::string& ref : std::vector<std::string>{"docker.io/library/busybox:latest@layer/1",
                                                         "../../escape", "a b\tc"}) {
    Digest d = Put("content for " + ref, ref);
    EXPECT_TRUE(*store_->Exists(ctx_, d)) << ref;
  }
  EXPECT_EQ(AllBlobs(ctx_, *store_).size(), 3u);
}

TEST_P(StoreConformanceTest, WalkVisitsAllAndStopsOnError) {
  std::set<Digest> want;
  for (int i = 0; i < 5; ++i) {
    want.insert(Put("blob " + std::to_string(i)));
  }
  EXPECT_EQ(AllBlobs(ctx_, *store_), want);
  int visited = 0;
  Result<> r = store_->Walk(ctx_, [&](const Info&) -> Result<> {
    ++visited;
    return Error::Cancelled("enough");
  });
  EXPECT_CODE(r, ErrorCode::kCancelled);
  EXPECT_EQ(visited, 1);
}

TEST_P(StoreConformanceTest, CancelledContextStopsWork) {
  Context cancelled = ctx_.WithCancel();
  cancelled.Cancel();
  EXPECT_CODE(store_->OpenWriter(cancelled, Ref("x")), ErrorCode::kCancelled);
  EXPECT_CODE(store_->GarbageCollect(cancelled, {}), ErrorCode::kCancelled);
}

TEST_P(StoreConformanceTest, Leases) {
  LeaseManager& leases = store_->leases();
  Result<Lease> generated = leases.Create(ctx_);
  ASSERT_OK(generated);
  EXPECT_FALSE(generated->id.empty());
  LeaseOptions named;
  named.id = "build-42";
  Result<Lease> lease = leases.Create(ctx_, named);
  ASSERT_OK(lease);
  EXPECT_EQ(lease->id, "build-42");
  EXPECT_FALSE(lease->expires_at.has_value());
  EXPECT_CODE(leases.Create(ctx_, named), ErrorCode::kAlreadyExists);
  for (const std::string& bad :
       std::vector<std::string>{"", ".hidden", "a/b", "x y", "a.tmp-1", std::string(129, 'a')}) {
    LeaseOptions o;
    o.id = bad;
    if (bad.empty()) {
      continue;  // Empty means "generate one".
    }
    EXPECT_CODE(leases.Create(ctx_, o), ErrorCode::kInvalidArgument);
  }

  Result<std::vector<Lease>> all = leases.List(ctx_);
  ASSERT_OK(all);
  std::set<std::string> ids;
  for (const Lease& l : *all) {
    ids.insert(l.id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{generated->id, "build-42"}));

  Digest a = digest::FromBytes("a");
  Digest b = digest::FromBytes("b");
  ASSERT_OK(leases.AddResource(ctx_, "build-42", b));
  ASSERT_OK(leases.AddResource(ctx_, "build-42", a));
  ASSERT_OK(leases.AddResource(ctx_, "build-42", a));
  Result<std::vector<Digest>> resources = leases.ListResources(ctx_, "build-42");
  ASSERT_OK(resources);
  std::vector<Digest> sorted = {a, b};
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(*resources, sorted);
  ASSERT_OK(leases.DeleteResource(ctx_, "build-42", a));
  ASSERT_OK(leases.DeleteResource(ctx_, "build-42", a));
  EXPECT_EQ(*leases.ListResources(ctx_, "build-42"), std::vector<Digest>{b});

  EXPECT_CODE(leases.AddResource(ctx_, "nope", a), ErrorCode::kNotFound);
  EXPECT_CODE(leases.ListResources(ctx_, "nope"), ErrorCode::kNotFound);
  EXPECT_CODE(leases.Delete(ctx_, "nope"), ErrorCode::kNotFound);
  ASSERT_OK(leases.Delete(ctx_, "build-42"));
  EXPECT_CODE(leases.ListResources(ctx_, "build-42"), ErrorCode::kNotFound);
  EXPECT_EQ(leases.List(ctx_)->size(), 1u);
}

TEST_P(StoreConformanceTest, ScopedLeaseDeletesOnDestruction) {
  std::string id;
  {
    Result<ScopedLease> lease = ScopedLease::Create(ctx_, store_->leases());
    ASSERT_OK(lease);
    id = lease->id();
    EXPECT_EQ(store_->leases().List(ctx_)->size(), 1u);
    ScopedLease moved = std::move(lease).value();
    EXPECT_EQ(moved.id(), id);
  }
  EXPECT_TRUE(store_->leases().List(ctx_)->empty());

  Result<ScopedLease> kept = ScopedLease::Create(ctx_, store_->leases());
  ASSERT_OK(kept);
  std::string kept_id = kept->Release();
  kept = ScopedLease();
  EXPECT_EQ(store_->leases().List(ctx_)->size(), 1u);
  ASSERT_OK(store_->leases().Delete(ctx_, kept_id));
}

TEST_P(StoreConformanceTest, GarbageCollectKeepsRootsAndLeasedContent) {
  Digest leased = Put("leased");
  Digest rooted = Put("rooted");
  Digest garbage = Put("garbage!");
  Result<Lease> lease = store_->leases().Create(ctx_);
  ASSERT_OK(lease);
  ASSERT_OK(store_->leases().AddResource(ctx_, lease->id, leased));

  Result<GcStats> stats = store_->GarbageCollect(ctx_, {rooted});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->blobs_removed, 1u);
  EXPECT_EQ(stats->bytes_removed, 8u);
  EXPECT_FALSE(*store_->Exists(ctx_, garbage));
  EXPECT_CODE(store_->OpenReader(ctx_, garbage), ErrorCode::kNotFound);
  EXPECT_EQ(AllBlobs(ctx_, *store_), (std::set<Digest>{leased, rooted}));

  // A second pass has nothing to do.
  stats = store_->GarbageCollect(ctx_, {rooted});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->blobs_removed, 0u);

  // Without its lease and root, everything goes.
  ASSERT_OK(store_->leases().Delete(ctx_, lease->id));
  stats = store_->GarbageCollect(ctx_, {});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->blobs_removed, 2u);
  EXPECT_TRUE(AllBlobs(ctx_, *store_).empty());

  // Content can be written again after collection.
  EXPECT_EQ(Put("garbage!"), garbage);
  EXPECT_EQ(*ReadBlob(ctx_, *store_, garbage), "garbage!");
}

TEST_P(StoreConformanceTest, CommitWithLeaseIsProtected) {
  Result<Lease> lease = store_->leases().Create(ctx_);
  ASSERT_OK(lease);
  WriterOptions o = Ref("with-lease");
  o.lease = lease->id;
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write("protected"));
  ASSERT_OK((*w)->Commit(ctx_));
  Digest d = digest::FromBytes("protected");
  EXPECT_EQ(*store_->leases().ListResources(ctx_, lease->id), std::vector<Digest>{d});
  ASSERT_OK(store_->GarbageCollect(ctx_, {}));
  EXPECT_TRUE(*store_->Exists(ctx_, d));

  // AlreadyExists also adds to the lease.
  Result<Lease> other = store_->leases().Create(ctx_);
  ASSERT_OK(other);
  o.ref = "with-lease-2";
  o.lease = other->id;
  w = store_->OpenWriter(ctx_, o);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Write("protected"));
  EXPECT_CODE((*w)->Commit(ctx_), ErrorCode::kAlreadyExists);
  ASSERT_OK(store_->leases().Delete(ctx_, lease->id));
  ASSERT_OK(store_->GarbageCollect(ctx_, {}));
  EXPECT_TRUE(*store_->Exists(ctx_, d));

  // A writer for a lease that does not exist fails up front.
  o.ref = "bad-lease";
  o.lease = "no-such-lease";
  EXPECT_CODE(store_->OpenWriter(ctx_, o), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, ExpiredLeasesStopProtecting) {
  Digest d = Put("short-lived");
  LeaseOptions o;
  o.ttl = std::chrono::seconds(0);
  Result<Lease> expired = store_->leases().Create(ctx_, o);
  ASSERT_OK(expired);
  ASSERT_TRUE(expired->expires_at.has_value());
  ASSERT_OK(store_->leases().AddResource(ctx_, expired->id, d));
  o.ttl = std::chrono::hours(1);
  Result<Lease> live = store_->leases().Create(ctx_, o);
  ASSERT_OK(live);
  Digest kept = Put("long-lived");
  ASSERT_OK(store_->leases().AddResource(ctx_, live->id, kept));

  Result<GcStats> stats = store_->GarbageCollect(ctx_, {});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->leases_expired, 1u);
  EXPECT_EQ(stats->blobs_removed, 1u);
  EXPECT_FALSE(*store_->Exists(ctx_, d));
  EXPECT_TRUE(*store_->Exists(ctx_, kept));
  Result<std::vector<Lease>> leases = store_->leases().List(ctx_);
  ASSERT_OK(leases);
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].id, live->id);
}

TEST_P(StoreConformanceTest, StaleIngestsAreCollectedLiveOnesAreNot) {
  {
    // A writer that wrote part of a blob and went away without committing, as a crashed
    // process would.
    Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref("abandoned"));
    ASSERT_OK(w);
    ASSERT_OK((*w)->Write("half a layer"));
  }
  Result<std::unique_ptr<Writer>> live = store_->OpenWriter(ctx_, Ref("live"));
  ASSERT_OK(live);
  ASSERT_OK((*live)->Write("still going"));
  ASSERT_EQ(store_->ListIngests(ctx_)->size(), 2u);

  // Young ingests survive the default age limit.
  Result<GcStats> stats = store_->GarbageCollect(ctx_, {});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->ingests_removed, 0u);
  EXPECT_EQ(store_->ListIngests(ctx_)->size(), 2u);

  GcOptions now;
  now.ingest_max_age = std::chrono::seconds(0);
  stats = store_->GarbageCollect(ctx_, {}, now);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->ingests_removed, 1u);
  Result<std::vector<Status>> left = store_->ListIngests(ctx_);
  ASSERT_OK(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].ref, "live");

  // The live writer is unaffected and commits.
  ASSERT_OK((*live)->Write(", done"));
  ASSERT_OK((*live)->Commit(ctx_));
  EXPECT_EQ(*ReadBlob(ctx_, *store_, digest::FromBytes("still going, done")), "still going, done");
  // The abandoned ref starts afresh.
  Result<std::unique_ptr<Writer>> fresh = store_->OpenWriter(ctx_, Ref("abandoned"));
  ASSERT_OK(fresh);
  EXPECT_EQ((*fresh)->offset(), 0u);
}

// Opening fresh ingests while GC passes scan the ingests must never fail spuriously, even when
// GC treats every unlocked ingest as stale.
TEST_P(StoreConformanceTest, OpenWriterRacingGarbageCollect) {
  for (std::chrono::seconds max_age : {std::chrono::seconds(86400), std::chrono::seconds(0)}) {
    std::atomic<bool> done{false};
    std::thread gc([&] {
      GcOptions options;
      options.ingest_max_age = max_age;
      while (!done.load()) {
        Result<GcStats> stats = store_->GarbageCollect(ctx_, {}, options);
        EXPECT_TRUE(stats.ok()) << stats.error().ToString();
      }
    });
    for (int i = 0; i < 200; ++i) {
      std::string ref = "fresh-" + std::to_string(max_age.count()) + "-" + std::to_string(i);
      Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, Ref(ref));
      EXPECT_TRUE(w.ok()) << w.error().ToString();
      if (w.ok()) {
        EXPECT_TRUE((*w)->Write("x").ok());
        EXPECT_TRUE((*w)->Close().ok());
      }
    }
    done = true;
    gc.join();
    if (max_age.count() > 0) {
      EXPECT_EQ(store_->ListIngests(ctx_)->size(), 200u);  // All young: none collected.
    }
  }
}

// Commits that add their blob to a lease, racing with GC passes that have no roots: every
// leased blob must survive.
TEST_P(StoreConformanceTest, GarbageCollectRacingLeasedCommits) {
  Result<Lease> lease = store_->leases().Create(ctx_);
  ASSERT_OK(lease);
  constexpr int kThreads = 3;
  constexpr int kBlobsPerThread = 15;
  std::atomic<bool> done{false};
  std::thread gc([&] {
    while (!done.load()) {
      Result<GcStats> stats = store_->GarbageCollect(ctx_, {});
      EXPECT_TRUE(stats.ok()) << stats.error().ToString();
    }
  });
  std::vector<std::thread> writers;
  std::vector<std::vector<Digest>> written(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kBlobsPerThread; ++i) {
        // Every other blob is shared between threads, exercising the AlreadyExists path.
        std::string data = i % 2 == 0 ? "shared " + std::to_string(i)
                                      : "own " + std::to_string(t) + "/" + std::to_string(i);
        WriterOptions o = Ref("race-" + std::to_string(t) + "-" + std::to_string(i));
        o.lease = lease->id;
        StringReader src(data);
        Result<Digest> d = WriteBlob(ctx_, *store_, src, o);
        EXPECT_TRUE(d.ok()) << d.error().ToString();
        if (d.ok()) {
          written[t].push_back(*d);
        }
      }
    });
  }
  for (std::thread& w : writers) {
    w.join();
  }
  done = true;
  gc.join();
  for (const auto& list : written) {
    for (const Digest& d : list) {
      EXPECT_TRUE(*store_->Exists(ctx_, d)) << d.ToString();
    }
  }
}

}  // namespace berth::content::testing
