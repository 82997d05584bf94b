#include "images/file_store.h"

#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

#include "archive/testing/tree.h"
#include "content/local_store.h"
#include "images/blob_source.h"
#include "images/root.h"
#include "oci/media_types.h"

namespace berth::images {
namespace {

using archive::testing::TempDir;

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_ = content::LocalStore::Open(dir_ / "content").value();
    Reopen();
  }

  void Reopen() {
    Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir_ / "images", *content_);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(store).value();
  }

  oci::Descriptor Blob(std::string_view media_type, const std::string& data) {
    oci::Descriptor d = oci::DescribeBlob(media_type, data);
    StringReader src(data);
    Result<digest::Digest> w =
        content::WriteBlob(ctx_, *content_, src, {.ref = "test-" + d.digest.hex()});
    EXPECT_TRUE(w.ok()) << w.error().ToString();
    return d;
  }

  // A one-layer image whose config differs by `name` and whose layer is `layer`.
  oci::Descriptor Image(const std::string& name, const oci::Descriptor& layer) {
    oci::ImageConfig config;
    config.architecture = "amd64";
    config.os = "linux";
    config.created = "2024-01-02T03:04:05Z";
    config.config.labels["name"] = name;
    config.rootfs.diff_ids = {layer.digest};
    oci::Manifest m;
    m.media_type = std::string(oci::kMediaTypeImageManifest);
    m.config = Blob(oci::kMediaTypeImageConfig, oci::Serialize(config));
    m.layers = {layer};
    return Blob(oci::kMediaTypeImageManifest, oci::Serialize(m));
  }

  bool Has(const oci::Descriptor& d) { return content_->Exists(ctx_, d.digest).value(); }

  Context ctx_ = Context::Background();
  TempDir dir_;
  std::unique_ptr<content::LocalStore> content_;
  std::unique_ptr<FileStore> store_;
};

TEST_F(FileStoreTest, PutGetListDelete) {
  oci::Descriptor layer = Blob(oci::kMediaTypeImageLayer, "layer bytes");
  oci::Descriptor m = Image("a", layer);
  Result<images::Image> put = store_->Put(ctx_, "busybox", m);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  EXPECT_EQ(put->name, "docker.io/library/busybox:latest");
  EXPECT_EQ(put->target, m);

  Result<images::Image> got = store_->Get(ctx_, "docker.io/library/busybox:latest");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, *put);
  EXPECT_EQ(store_->Get(ctx_, "busybox:latest")->target, m);

  ASSERT_TRUE(store_->Put(ctx_, "localhost:5000/team/app:v1", m).ok());
  std::vector<images::Image> all = store_->List(ctx_).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "docker.io/library/busybox:latest");
  EXPECT_EQ(all[1].name, "localhost:5000/team/app:v1");

  ASSERT_TRUE(store_->Delete(ctx_, "busybox").ok());
  EXPECT_EQ(store_->Get(ctx_, "busybox").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->List(ctx_)->size(), 1u);
  // Still referenced by the other name.
  EXPECT_TRUE(Has(m));
  EXPECT_TRUE(Has(layer));
}

TEST_F(FileStoreTest, Errors) {
  oci::Descriptor layer = Blob(oci::kMediaTypeImageLayer, "x");
  EXPECT_EQ(store_->Get(ctx_, "nothing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Delete(ctx_, "nothing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Put(ctx_, "Bad/Name", Image("a", layer)).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Put(ctx_, "ok", layer).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Get(ctx_, "").error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(FileStoreTest, PersistsAcrossReopen) {
  oci::Descriptor m = Image("a", Blob(oci::kMediaTypeImageLayer, "layer"));
  m.platform = oci::Platform{{.os = "linux", .architecture = "arm64"}};
  m.annotations["k"] = "v";
  images::Image put = store_->Put(ctx_, "app:v1", m).value();
  Reopen();
  Result<images::Image> got = store_->Get(ctx_, "app:v1");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, put);
  EXPECT_EQ(store_->List(ctx_)->size(), 1u);
}

TEST_F(FileStoreTest, RetagKeepsCreationTime) {
  oci::Descriptor layer = Blob(oci::kMediaTypeImageLayer, "layer");
  images::Image first = store_->Put(ctx_, "app", Image("a", layer)).value();
  images::Image second = store_->Put(ctx_, "app", Image("b", layer)).value();
  EXPECT_EQ(second.created_at, first.created_at);
  EXPECT_GE(second.updated_at, first.updated_at);
  EXPECT_NE(second.target, first.target);
  EXPECT_EQ(store_->List(ctx_)->size(), 1u);
}

TEST_F(FileStoreTest, DeleteFreesOnlyUnreferencedBlobs) {
  oci::Descriptor shared = Blob(oci::kMediaTypeImageLayerGzip, "shared layer");
  oci::Descriptor own = Blob(oci::kMediaTypeImageLayerGzip, "own layer");
  oci::Descriptor a = Image("a", shared);
  oci::Descriptor b = Image("b", own);
  // b's manifest gets a second layer: the shared one.
  {
    oci::Manifest m =
        oci::ParseManifest(content::ReadBlob(ctx_, *content_, b.digest).value()).value();
    m.layers.push_back(shared);
    b = Blob(oci::kMediaTypeImageManifest, oci::Serialize(m));
  }
  oci::Manifest ma =
      oci::ParseManifest(content::ReadBlob(ctx_, *content_, a.digest).value()).value();
  oci::Manifest mb =
      oci::ParseManifest(content::ReadBlob(ctx_, *content_, b.digest).value()).value();
  oci::Descriptor stray = Blob(oci::kMediaTypeImageLayer, "referenced by nothing");
  oci::Descriptor leased = Blob(oci::kMediaTypeImageLayer, "held by a lease");
  content::ScopedLease lease = content::ScopedLease::Create(ctx_, content_->leases()).value();
  ASSERT_TRUE(content_->leases().AddResource(ctx_, lease.id(), leased.digest).ok());

  ASSERT_TRUE(store_->Put(ctx_, "a", a).ok());
  ASSERT_TRUE(store_->Put(ctx_, "b", b).ok());

  Result<content::GcStats> stats = store_->Delete(ctx_, "a");
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_FALSE(Has(a));
  EXPECT_FALSE(Has(ma.config));
  EXPECT_FALSE(Has(stray));
  EXPECT_TRUE(Has(shared));
  EXPECT_TRUE(Has(own));
  EXPECT_TRUE(Has(b));
  EXPECT_TRUE(Has(mb.config));
  EXPECT_TRUE(Has(leased));
  // a's manifest and config, the stray blob, b's first (one-layer) manifest.
  EXPECT_EQ(stats->blobs_removed, 4u);

  ASSERT_TRUE(store_->Delete(ctx_, "b").ok());
  EXPECT_FALSE(Has(shared));
  EXPECT_FALSE(Has(own));
  EXPECT_FALSE(Has(b));
  EXPECT_TRUE(Has(leased));
}

TEST_F(FileStoreTest, IndexTargetsKeepTheirChildren) {
  oci::Descriptor layer = Blob(oci::kMediaTypeImageLayer, "layer");
  oci::Descriptor m = Image("a", layer);
  oci::Index index;
  index.media_type = std::string(oci::kMediaTypeImageIndex);
  index.manifests = {m};
  oci::Descriptor idx = Blob(oci::kMediaTypeImageIndex, oci::Serialize(index));
  ASSERT_TRUE(store_->Put(ctx_, "multi", idx).ok());
  ASSERT_TRUE(store_->GarbageCollect(ctx_).ok());
  EXPECT_TRUE(Has(idx));
  EXPECT_TRUE(Has(m));
  EXPECT_TRUE(Has(layer));
}

TEST_F(FileStoreTest, MissingBlobsDoNotStopCollection) {
  oci::Descriptor layer = Blob(oci::kMediaTypeImageLayer, "layer");
  oci::Descriptor m = Image("a", layer);
  oci::Descriptor ghost = oci::DescribeBlob(oci::kMediaTypeImageManifest, "never stored");
  ASSERT_TRUE(store_->Put(ctx_, "a", m).ok());
  ASSERT_TRUE(store_->Put(ctx_, "ghost", ghost).ok());
  oci::Descriptor stray = Blob(oci::kMediaTypeImageLayer, "stray");
  Result<content::GcStats> stats = store_->GarbageCollect(ctx_);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_FALSE(Has(stray));
  EXPECT_TRUE(Has(layer));
}

TEST_F(FileStoreTest, BlobSourceReadsTheContentStore) {
  oci::Descriptor d = Blob(oci::kMediaTypeImageLayer, "some bytes");
  ContentBlobSource source(ctx_, *content_);
  Result<std::string> data = oci::ReadBlob(source, d);
  ASSERT_TRUE(data.ok()) << data.error().ToString();
  EXPECT_EQ(*data, "some bytes");
  EXPECT_EQ(source.Open(digest::FromBytes("absent")).error().code(), ErrorCode::kNotFound);
}

TEST(RootTest, ResolvesAndOpens) {
  EXPECT_EQ(ResolveRootPath("/x/y").value(), "/x/y");
  ::setenv("BERTH_ROOT", "/from/env", 1);  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(ResolveRootPath().value(), "/from/env");
  ::unsetenv("BERTH_ROOT");  // NOLINT(concurrency-mt-unsafe)
  Result<std::string> fallback = ResolveRootPath();
  ASSERT_TRUE(fallback.ok());
  EXPECT_FALSE(fallback->empty());

  TempDir dir;
  Result<std::unique_ptr<Root>> root = Root::Open(dir / "state");
  ASSERT_TRUE(root.ok()) << root.error().ToString();
  EXPECT_EQ((*root)->path(), dir / "state");
  EXPECT_TRUE((*root)->images().List(Context::Background())->empty());
  EXPECT_EQ((*root)->content().root(), dir / "state/content");
}

}  // namespace
}  // namespace berth::images
