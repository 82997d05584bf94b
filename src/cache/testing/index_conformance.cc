#include "cache/testing/index_conformance.h"

#include <stdlib.h>

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "digest/digest.h"

namespace berth::cache::testing {

void IndexConformanceTest::SetUp() {
  char tmpl[] = "/tmp/berth-cache-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  index_ = Reopen();
  ASSERT_NE(index_, nullptr);
}

void IndexConformanceTest::TearDown() {
  index_.reset();
  if (!dir_.empty()) {
    (void)::system(("rm -rf " + dir_).c_str());
  }
}

std::unique_ptr<Index> IndexConformanceTest::Reopen() {
  Result<std::unique_ptr<Index>> index = GetParam().make(dir_, [this] { return Now(); });
  EXPECT_TRUE(index.ok()) << index.error().ToString();
  return index.ok() ? std::move(index).value() : nullptr;
}

Time IndexConformanceTest::Now() const {
  return Time(std::chrono::seconds(now_seconds_.load()));
}

void IndexConformanceTest::Advance(std::chrono::seconds s) {
  now_seconds_ += s.count();
}

Record MakeRecord(const std::string& snapshot, int64_t size) {
  Record r;
  r.snapshot = snapshot;
  r.size = size;
  r.description = "[build 2/3] RUN make " + snapshot;
  r.location = "Dockerfile:7";
  r.platform = "linux/amd64";
  return r;
}

Layer MakeLayer(const std::string& seed, const std::string& compression) {
  Layer l;
  l.media_type = "application/vnd.oci.image.layer.v1.tar+" + compression;
  l.digest = digest::FromBytes("blob " + seed + " " + compression);
  l.diff_id = digest::FromBytes("diff " + seed);
  l.size = 1234;
  l.compression = compression;
  return l;
}

namespace {

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

std::vector<std::string> Keys(const std::vector<Record>& records) {
  std::vector<std::string> keys;
  for (const Record& r : records) {
    keys.push_back(r.key);
  }
  return keys;
}

const std::string kKeyA = "sha256:aaaa";
const std::string kKeyB = "sha256:bbbb";
const std::string kKeyC = "sha256:cccc";

TEST_P(IndexConformanceTest, PutThenLookupReturnsEverything) {
  Record r = MakeRecord("snap-1", 4096);
  r.output_index = 2;
  r.layers = {MakeLayer("one"), MakeLayer("one", "zstd")};
  Result<Record> put = index_->Put(ctx_, "", kKeyA, r);
  ASSERT_OK(put);
  EXPECT_EQ(put->key, kKeyA);
  EXPECT_EQ(put->created_at, Now());
  EXPECT_EQ(put->last_used_at, Now());

  Advance(std::chrono::seconds(10));
  Result<Record> got = index_->Lookup(ctx_, "", kKeyA);
  ASSERT_OK(got);
  Record want = r;
  want.key = kKeyA;
  want.created_at = Now() - std::chrono::seconds(10);
  want.last_used_at = Now();
  EXPECT_EQ(*got, want);
}

TEST_P(IndexConformanceTest, LookupOfMissingKeyIsNotFound) {
  EXPECT_CODE(index_->Lookup(ctx_, "", kKeyA), ErrorCode::kNotFound);
  EXPECT_CODE(index_->Lookup(ctx_, "", ""), ErrorCode::kInvalidArgument);
}

TEST_P(IndexConformanceTest, PutRejectsMalformedRecords) {
  EXPECT_CODE(index_->Put(ctx_, "", "", MakeRecord("s")), ErrorCode::kInvalidArgument);
  EXPECT_CODE(index_->Put(ctx_, "", kKeyA, MakeRecord("")), ErrorCode::kInvalidArgument);
  EXPECT_CODE(index_->Put(ctx_, "", kKeyA, MakeRecord("s", -1)), ErrorCode::kInvalidArgument);
  Record bad_layer = MakeRecord("s");
  bad_layer.layers.push_back(Layer{});
  EXPECT_CODE(index_->Put(ctx_, "", kKeyA, bad_layer), ErrorCode::kInvalidArgument);
  EXPECT_CODE(index_->Lookup(ctx_, "", kKeyA), ErrorCode::kNotFound);
}

TEST_P(IndexConformanceTest, SecondPutOfAKeyGetsTheFirstRecord) {
  ASSERT_OK(index_->Put(ctx_, "", kKeyA, MakeRecord("first")));
  Advance(std::chrono::seconds(5));
  Result<Record> second = index_->Put(ctx_, "", kKeyA, MakeRecord("second"));
  ASSERT_OK(second);
  EXPECT_EQ(second->snapshot, "first");
  EXPECT_EQ(second->last_used_at, Now());  // The second builder used it.
  Result<Record> got = index_->Lookup(ctx_, "", kKeyA);
  ASSERT_OK(got);
  EXPECT_EQ(got->snapshot, "first");
}

TEST_P(IndexConformanceTest, ProjectsDoNotSeeEachOthersKeys) {
  ASSERT_OK(index_->Put(ctx_, "proj-a", kKeyA, MakeRecord("snap-a")));
  EXPECT_CODE(index_->Lookup(ctx_, "proj-b", kKeyA), ErrorCode::kNotFound);
  EXPECT_CODE(index_->Lookup(ctx_, "", kKeyA), ErrorCode::kNotFound);
  // The same key in another project is another record.
  Result<Record> b = index_->Put(ctx_, "proj-b", kKeyA, MakeRecord("snap-b"));
  ASSERT_OK(b);
  EXPECT_EQ(b->snapshot, "snap-b");
  Result<Record> a = index_->Lookup(ctx_, "proj-a", kKeyA);
  ASSERT_OK(a);
  EXPECT_EQ(a->snapshot, "snap-a");
}

TEST_P(IndexConformanceTest, AddLayerAppendsOncePerDigest) {
  ASSERT_OK(index_->Put(ctx_, "", kKeyA, MakeRecord("snap")));
  ASSERT_OK(index_->AddLayer(ctx_, "", kKeyA, MakeLayer("x", "gzip")));
  ASSERT_OK(index_->AddLayer(ctx_, "", kKeyA, MakeLayer("x", "zstd")));
  ASSERT_OK(index_->AddLayer(ctx_, "", kKeyA, MakeLayer("x", "gzip")));
  Result<Record> got = index_->Lookup(ctx_, "", kKeyA);
  ASSERT_OK(got);
  std::vector<Layer> want = {MakeLayer("x", "gzip"), MakeLayer("x", "zstd")};
  EXPECT_EQ(got->layers, want);

  EXPECT_CODE(index_->AddLayer(ctx_, "", kKeyB, MakeLayer("x")), ErrorCode::kNotFound);
  EXPECT_CODE(index_->AddLayer(ctx_, "other", kKeyA, MakeLayer("x")), ErrorCode::kNotFound);
  EXPECT_CODE(index_->AddLayer(ctx_, "", kKeyA, Layer{}), ErrorCode::kInvalidArgument);
}

TEST_P(IndexConformanceTest, ListIsMostRecentlyUsedFirst) {
  ASSERT_OK(index_->Put(ctx_, "p", kKeyA, MakeRecord("a")));
  Advance(std::chrono::seconds(1));
  ASSERT_OK(index_->Put(ctx_, "p", kKeyB, MakeRecord("b")));
  Advance(std::chrono::seconds(1));
  ASSERT_OK(index_->Put(ctx_, "p", kKeyC, MakeRecord("c")));
  ASSERT_OK(index_->Put(ctx_, "q", kKeyA, MakeRecord("other project")));
  Advance(std::chrono::seconds(1));
  ASSERT_OK(index_->Lookup(ctx_, "p", kKeyA));
  ASSERT_OK(index_->AddLayer(ctx_, "p", kKeyB, MakeLayer("b")));

  Result<std::vector<Record>> list = index_->List(ctx_, "p");
  ASSERT_OK(list);
  EXPECT_EQ(Keys(*list), (std::vector<std::string>{kKeyA, kKeyC, kKeyB}));
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[2].layers, std::vector<Layer>{MakeLayer("b")});
  EXPECT_EQ((*list)[0].description, "[build 2/3] RUN make a");
  EXPECT_EQ((*list)[0].location, "Dockerfile:7");
  EXPECT_EQ((*list)[0].platform, "linux/amd64");

  Result<std::vector<Record>> empty = index_->List(ctx_, "nobody");
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_P(IndexConformanceTest, DeleteHidesTheRecordUntilForgotten) {
  Record r = MakeRecord("snap", 300);
  r.layers = {MakeLayer("l")};
  ASSERT_OK(index_->Put(ctx_, "", kKeyA, r));
  ASSERT_OK(index_->Put(ctx_, "", kKeyB, MakeRecord("other", 50)));

  Result<Removal> removal = index_->Delete(ctx_, "", kKeyA);
  ASSERT_OK(removal);
  EXPECT_EQ(removal->keys, std::vector<std::string>{kKeyA});
  EXPECT_EQ(removal->snapshots, std::vector<std::string>{"snap"});
  EXPECT_EQ(removal->blobs, std::vector<digest::Digest>{MakeLayer("l").digest});
  EXPECT_EQ(removal->bytes, 300);

  // Marked: invisible everywhere, though not yet gone.
  EXPECT_CODE(index_->Lookup(ctx_, "", kKeyA), ErrorCode::kNotFound);
  EXPECT_CODE(index_->AddLayer(ctx_, "", kKeyA, MakeLayer("m")), ErrorCode::kNotFound);
  EXPECT_CODE(index_->Delete(ctx_, "", kKeyA), ErrorCode::kNotFound);
  Result<std::vector<Record>> list = index_->List(ctx_, "");
  ASSERT_OK(list);
  EXPECT_EQ(Keys(*list), std::vector<std::string>{kKeyB});
  Result<int64_t> total = index_->TotalSize(ctx_, "");
  ASSERT_OK(total);
  EXPECT_EQ(*total, 50);
  Result<GcRoots> roots = index_->GcRoots(ctx_, "");
  ASSERT_OK(roots);
  EXPECT_EQ(roots->snapshots, std::set<std::string>{"other"});
  EXPECT_TRUE(roots->blobs.empty());

  ASSERT_OK(index_->Forget(ctx_, "", removal->keys));
  ASSERT_OK(index_->Forget(ctx_, "", removal->keys));  // Idempotent.
  // Nothing left to finish.
  Result<Removal> evict = index_->Evict(ctx_, "", 1 << 30, Time::max());
  ASSERT_OK(evict);
  EXPECT_TRUE(evict->keys.empty());
}

TEST_P(IndexConformanceTest, SharedSnapshotsAndBlobsAreReleasedWithTheirLastRecord) {
  Record r = MakeRecord("shared-snap");
  r.layers = {MakeLayer("shared")};
  ASSERT_OK(index_->Put(ctx_, "a", kKeyA, r));
  ASSERT_OK(index_->Put(ctx_, "a", kKeyB, r));
  ASSERT_OK(index_->Put(ctx_, "b", kKeyA, r));

  Result<Removal> first = index_->Delete(ctx_, "a", kKeyA);
  ASSERT_OK(first);
  EXPECT_TRUE(first->snapshots.empty());
  EXPECT_TRUE(first->blobs.empty());

  Result<Removal> reset = index_->Reset(ctx_, "a");
  ASSERT_OK(reset);
  EXPECT_TRUE(reset->snapshots.empty()) << "project b still uses it";
  EXPECT_TRUE(reset->blobs.empty());

  Result<Removal> last = index_->Delete(ctx_, "b", kKeyA);
  ASSERT_OK(last);
  EXPECT_EQ(last->snapshots, std::vector<std::string>{"shared-snap"});
  EXPECT_EQ(last->blobs, std::vector<digest::Digest>{MakeLayer("shared").digest});
}

TEST_P(IndexConformanceTest, ResetDropsOnlyThatProject) {
  ASSERT_OK(index_->Put(ctx_, "a", kKeyA, MakeRecord("a1", 10)));
  ASSERT_OK(index_->Put(ctx_, "a", kKeyB, MakeRecord("a2", 20)));
  ASSERT_OK(index_->Put(ctx_, "b", kKeyA, MakeRecord("b1", 40)));
  ASSERT_OK(index_->Put(ctx_, "", kKeyC, MakeRecord("d1", 80)));

  Result<Removal> removal = index_->Reset(ctx_, "a");
  ASSERT_OK(removal);
  std::vector<std::string> keys = removal->keys;
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{kKeyA, kKeyB}));
  EXPECT_EQ(removal->snapshots, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(removal->bytes, 30);
  ASSERT_OK(index_->Forget(ctx_, "a", removal->keys));

  Result<std::vector<Record>> a = index_->List(ctx_, "a");
  ASSERT_OK(a);
  EXPECT_TRUE(a->empty());
  Result<Record> b = index_->Lookup(ctx_, "b", kKeyA);
  ASSERT_OK(b);
  EXPECT_EQ(b->snapshot, "b1");
  ASSERT_OK(index_->Lookup(ctx_, "", kKeyC));
  Result<int64_t> total_b = index_->TotalSize(ctx_, "b");
  ASSERT_OK(total_b);
  EXPECT_EQ(*total_b, 40);

  Result<Removal> again = index_->Reset(ctx_, "a");
  ASSERT_OK(again);
  EXPECT_TRUE(again->keys.empty());
}

TEST_P(IndexConformanceTest, EvictRemovesLeastRecentlyUsedUntilUnderTheCap) {
  const std::vector<std::string> keys = {"k1", "k2", "k3", "k4", "k5"};
  for (const std::string& k : keys) {
    ASSERT_OK(index_->Put(ctx_, "p", k, MakeRecord("snap-" + k, 100)));
    Advance(std::chrono::seconds(1));
  }
  ASSERT_OK(index_->Put(ctx_, "other", "k1", MakeRecord("other", 1000)));
  // k1 was used last: it is now the most recent.
  ASSERT_OK(index_->Lookup(ctx_, "p", "k1"));
  Result<int64_t> total = index_->TotalSize(ctx_, "p");
  ASSERT_OK(total);
  EXPECT_EQ(*total, 500);

  Result<Removal> removal = index_->Evict(ctx_, "p", 250, Time::max());
  ASSERT_OK(removal);
  EXPECT_EQ(removal->keys, (std::vector<std::string>{"k2", "k3", "k4"}));
  EXPECT_EQ(removal->snapshots, (std::vector<std::string>{"snap-k2", "snap-k3", "snap-k4"}));
  EXPECT_EQ(removal->bytes, 300);
  total = index_->TotalSize(ctx_, "p");
  ASSERT_OK(total);
  EXPECT_EQ(*total, 200);
  Result<std::vector<Record>> list = index_->List(ctx_, "p");
  ASSERT_OK(list);
  EXPECT_EQ(Keys(*list), (std::vector<std::string>{"k1", "k5"}));
  ASSERT_OK(index_->Forget(ctx_, "p", removal->keys));

  // Under the cap: nothing to do. The other project was never touched.
  Result<Removal> none = index_->Evict(ctx_, "p", 200, Time::max());
  ASSERT_OK(none);
  EXPECT_TRUE(none->keys.empty());
  ASSERT_OK(index_->Lookup(ctx_, "other", "k1"));

  // A cap of zero empties the project.
  Result<Removal> all = index_->Evict(ctx_, "p", 0, Time::max());
  ASSERT_OK(all);
  EXPECT_EQ(all->keys, (std::vector<std::string>{"k5", "k1"}));
  EXPECT_CODE(index_->Evict(ctx_, "p", -1, Time::max()), ErrorCode::kInvalidArgument);
}

TEST_P(IndexConformanceTest, EvictFinishesRemovalsThatWereNeverForgotten) {
  ASSERT_OK(index_->Put(ctx_, "p", kKeyA, MakeRecord("a", 10)));
  ASSERT_OK(index_->Put(ctx_, "p", kKeyB, MakeRecord("b", 10)));
  ASSERT_OK(index_->Delete(ctx_, "p", kKeyA));
  // A crash here: the snapshot may or may not be gone, the record is still marked.
  std::unique_ptr<Index> restarted = Reopen();
  ASSERT_NE(restarted, nullptr);
  EXPECT_CODE(restarted->Lookup(ctx_, "p", kKeyA), ErrorCode::kNotFound);
  Result<Removal> removal = restarted->Evict(ctx_, "p", 1000, Time::max());
  ASSERT_OK(removal);
  EXPECT_EQ(removal->keys, std::vector<std::string>{kKeyA});
  EXPECT_EQ(removal->snapshots, std::vector<std::string>{"a"});
  ASSERT_OK(restarted->Forget(ctx_, "p", removal->keys));
  removal = restarted->Evict(ctx_, "p", 1000, Time::max());
  ASSERT_OK(removal);
  EXPECT_TRUE(removal->keys.empty());
}

TEST_P(IndexConformanceTest, PutReplacesARecordBeingRemoved) {
  ASSERT_OK(index_->Put(ctx_, "", kKeyA, MakeRecord("old")));
  Result<Removal> removal = index_->Delete(ctx_, "", kKeyA);
  ASSERT_OK(removal);
  // The old snapshot is being removed: it must not come back under the key.
  EXPECT_CODE(index_->Put(ctx_, "", kKeyA, MakeRecord("old")), ErrorCode::kUnavailable);
  Result<Record> put = index_->Put(ctx_, "", kKeyA, MakeRecord("new"));
  ASSERT_OK(put);
  EXPECT_EQ(put->snapshot, "new");
  // The evictor finishing its removal leaves the new record alone.
  ASSERT_OK(index_->Forget(ctx_, "", removal->keys));
  Result<Record> got = index_->Lookup(ctx_, "", kKeyA);
  ASSERT_OK(got);
  EXPECT_EQ(got->snapshot, "new");
}

TEST_P(IndexConformanceTest, GcRootsCoverEveryProjectsLiveRecords) {
  Record a = MakeRecord("snap-a");
  a.layers = {MakeLayer("a")};
  ASSERT_OK(index_->Put(ctx_, "a", kKeyA, a));
  ASSERT_OK(index_->Put(ctx_, "b", kKeyA, MakeRecord("snap-b")));
  ASSERT_OK(index_->AddLayer(ctx_, "b", kKeyA, MakeLayer("b", "zstd")));
  ASSERT_OK(index_->Put(ctx_, "", kKeyB, MakeRecord("snap-c")));
  ASSERT_OK(index_->Delete(ctx_, "", kKeyB));

  Result<GcRoots> roots = index_->GcRoots(ctx_, "");
  ASSERT_OK(roots);
  EXPECT_EQ(roots->snapshots, (std::set<std::string>{"snap-a", "snap-b"}));
  EXPECT_EQ(roots->blobs,
            (std::set<digest::Digest>{MakeLayer("a").digest, MakeLayer("b", "zstd").digest}));
}

TEST_P(IndexConformanceTest, EvictKeepsRecordsUsedSinceTheGivenTime) {
  for (const std::string k : {"k1", "k2", "k3", "k4"}) {
    ASSERT_OK(index_->Put(ctx_, "p", k, MakeRecord("snap-" + k, 100)));
    Advance(std::chrono::seconds(1));
  }
  // A build starts now and uses k1 (a hit) and makes k5: both are its own.
  Time build_started = Now();
  Advance(std::chrono::seconds(1));
  ASSERT_OK(index_->Lookup(ctx_, "p", "k1"));
  ASSERT_OK(index_->Put(ctx_, "p", "k5", MakeRecord("snap-k5", 100)));

  // A cap of zero wants everything gone, but the running build's records stay; the rest goes
  // least recently used first.
  Result<Removal> removal = index_->Evict(ctx_, "p", 0, build_started);
  ASSERT_OK(removal);
  EXPECT_EQ(removal->keys, (std::vector<std::string>{"k2", "k3", "k4"}));
  Result<std::vector<Record>> list = index_->List(ctx_, "p");
  ASSERT_OK(list);
  EXPECT_EQ(Keys(*list), (std::vector<std::string>{"k5", "k1"}));
  ASSERT_OK(index_->Forget(ctx_, "p", removal->keys));

  // Once the build is over (nothing to keep), the cap applies to its records too; a record of
  // size 0 frees nothing and stays.
  ASSERT_OK(index_->Put(ctx_, "p", "empty", MakeRecord("snap-empty", 0)));
  Result<Removal> rest = index_->Evict(ctx_, "p", 0, Time::max());
  ASSERT_OK(rest);
  EXPECT_EQ(rest->keys, (std::vector<std::string>{"k1", "k5"}));
  list = index_->List(ctx_, "p");
  ASSERT_OK(list);
  EXPECT_EQ(Keys(*list), std::vector<std::string>{"empty"});
}

TEST_P(IndexConformanceTest, GcRootsSkipSnapshotsOnlyWeakRecordsReference) {
  Record layer = MakeRecord("step");
  layer.layers = {MakeLayer("step")};
  ASSERT_OK(index_->Put(ctx_, "", "layer:step", layer));
  ASSERT_OK(index_->Put(ctx_, "", "layer:kept", MakeRecord("kept")));
  ASSERT_OK(index_->Put(ctx_, "p", kKeyA, MakeRecord("kept")));
  ASSERT_OK(index_->Put(ctx_, "p", kKeyB, MakeRecord("layer%")));

  Result<GcRoots> roots = index_->GcRoots(ctx_, "layer:");
  ASSERT_OK(roots);
  // "step" is described by a weak record only; "layer%" is a strong record's snapshot (the
  // prefix is matched literally, not as a LIKE pattern).
  EXPECT_EQ(roots->snapshots, (std::set<std::string>{"kept", "layer%"}));
  EXPECT_EQ(roots->blobs, std::set<digest::Digest>{MakeLayer("step").digest});

  Result<GcRoots> all = index_->GcRoots(ctx_, "");
  ASSERT_OK(all);
  EXPECT_EQ(all->snapshots, (std::set<std::string>{"kept", "layer%", "step"}));
}

TEST_P(IndexConformanceTest, RecordsSurviveReopening) {
  Record r = MakeRecord("persisted", 777);
  r.layers = {MakeLayer("p")};
  ASSERT_OK(index_->Put(ctx_, "proj", kKeyA, r));
  index_.reset();
  index_ = Reopen();
  ASSERT_NE(index_, nullptr);
  Result<Record> got = index_->Lookup(ctx_, "proj", kKeyA);
  ASSERT_OK(got);
  EXPECT_EQ(got->snapshot, "persisted");
  EXPECT_EQ(got->size, 777);
  EXPECT_EQ(got->layers, r.layers);
}

TEST_P(IndexConformanceTest, ConcurrentPutsOfOneKeyAgreeOnOneRecord) {
  constexpr int kThreads = 6;
  constexpr int kKeys = 40;
  // Half the writers share this handle, half have their own (as another process would).
  std::vector<std::unique_ptr<Index>> handles;
  for (int t = 0; t < kThreads / 2; ++t) {
    handles.push_back(Reopen());
    ASSERT_NE(handles.back(), nullptr);
  }
  std::vector<std::vector<std::string>> got(kThreads, std::vector<std::string>(kKeys));
  std::vector<std::string> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Index& index = t % 2 == 0 ? *index_ : *handles[t / 2];
      ready++;
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      for (int k = 0; k < kKeys; ++k) {
        std::string key = "key-" + std::to_string(k);
        Result<Record> r = index.Put(ctx_, "", key, MakeRecord("snap-" + std::to_string(t)));
        if (!r.ok()) {
          errors[t] = r.error().ToString();
          return;
        }
        got[t][k] = r->snapshot;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "writer " << t;
  }
  Result<std::vector<Record>> list = index_->List(ctx_, "");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), static_cast<size_t>(kKeys));
  for (int k = 0; k < kKeys; ++k) {
    Result<Record> stored = index_->Lookup(ctx_, "", "key-" + std::to_string(k));
    ASSERT_OK(stored);
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(got[t][k], stored->snapshot) << "writer " << t << " key " << k;
    }
  }
}

TEST_P(IndexConformanceTest, CancelledContextDoesNothing) {
  Context cancelled = ctx_.WithCancel();
  cancelled.Cancel();
  EXPECT_CODE(index_->Put(cancelled, "", kKeyA, MakeRecord("s")), ErrorCode::kCancelled);
  EXPECT_CODE(index_->Lookup(ctx_, "", kKeyA), ErrorCode::kNotFound);
}

}  // namespace

}  // namespace berth::cache::testing
