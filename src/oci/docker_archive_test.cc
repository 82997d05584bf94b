#include "oci/docker_archive.h"

#include <fcntl.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/layout.h"
#include "oci/media_types.h"
#include "oci/testing/test_image.h"
#include "os/file.h"

namespace berth::oci {
namespace {

using test::BuildTinyImage;
using test::CommandResult;
using test::HaveTool;
using test::RunCommand;
using test::TempDir;
using test::TinyImage;
using ::testing::HasSubstr;
using json = nlohmann::json;

Result<> WriteArchiveFile(const std::string& path, BlobSource& blobs,
                          std::span<const DockerArchiveImage> images) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  FdWriter out(std::move(fd));
  BERTH_TRY(WriteDockerArchive(out, blobs, images));
  return out.Close();
}

class DockerArchiveTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    Result<TinyImage> img =
        BuildTinyImage(blobs_, scratch_.path(), {{"hello.txt", "hello from berth\n"}}, "amd64",
                       /*docker_media_types=*/GetParam());
    ASSERT_TRUE(img.ok()) << img.error().ToString();
    image_ = std::move(img).value();
    archive_ = out_.Join("image.tar");
  }

  MemoryBlobSource blobs_;
  TempDir scratch_;
  TempDir out_;
  TinyImage image_;
  std::string archive_;
};

TEST_P(DockerArchiveTest, HasBothIndexes) {
  DockerArchiveImage img{image_.manifest, {"tiny:v1", "localhost:5000/team/tiny"}};
  ASSERT_TRUE(WriteArchiveFile(archive_, blobs_, {&img, 1}).ok());

  std::string extracted = out_.Join("x");
  ASSERT_TRUE(os::MakeDirs(extracted).ok());
  CommandResult x = RunCommand("tar -C '" + extracted + "' -xf '" + archive_ + "'");
  ASSERT_EQ(x.exit_code, 0) << x.output;

  json manifest = json::parse(os::ReadFile(extracted + "/manifest.json").value());
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + image_.config.digest.hex());
  EXPECT_EQ(manifest[0]["RepoTags"], json::array({"tiny:v1", "localhost:5000/team/tiny:latest"}));
  EXPECT_EQ(manifest[0]["Layers"], json::array({"blobs/sha256/" + image_.layers[0].digest.hex()}));
  json repositories = json::parse(os::ReadFile(extracted + "/repositories").value());
  EXPECT_EQ(repositories["tiny"]["v1"], image_.layers[0].digest.hex());
  EXPECT_EQ(repositories["localhost:5000/team/tiny"]["latest"], image_.layers[0].digest.hex());

  // The same archive is an OCI layout with one entry per tag.
  Result<std::unique_ptr<LayoutReader>> layout = LayoutReader::OpenTar(archive_);
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  ASSERT_EQ((*layout)->index().manifests.size(), 2u);
  Descriptor v1 = (*layout)->Resolve("docker.io/library/tiny:v1").value();
  EXPECT_EQ(v1.digest, image_.manifest.digest);
  EXPECT_EQ(v1.annotations.at(std::string(kAnnotationRefName)), "v1");
  ASSERT_TRUE(v1.platform.has_value());
  EXPECT_EQ(v1.platform->ToString(), "linux/amd64");
  Result<Manifest> m = ReadManifest(**layout, v1);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_TRUE(ReadBlob(**layout, m->layers[0], 1 << 20).ok());
}

TEST_P(DockerArchiveTest, RejectsBadInput) {
  StringWriter sink;
  DockerArchiveImage digest_ref{image_.manifest, {"tiny@sha256:" + std::string(64, 'a')}};
  EXPECT_EQ(WriteDockerArchive(sink, blobs_, {&digest_ref, 1}).error().code(),
            ErrorCode::kInvalidArgument);
  DockerArchiveImage bad_tag{image_.manifest, {"Not A Reference"}};
  EXPECT_EQ(WriteDockerArchive(sink, blobs_, {&bad_tag, 1}).error().code(),
            ErrorCode::kInvalidArgument);
  DockerArchiveImage layer{image_.layers[0], {"tiny:v1"}};
  EXPECT_EQ(WriteDockerArchive(sink, blobs_, {&layer, 1}).error().code(),
            ErrorCode::kInvalidArgument);

  // A config that lists no diff_ids for a one-layer manifest: docker load would refuse it.
  ImageConfig config = image_.config_value;
  config.rootfs.diff_ids.clear();
  Manifest m = ReadManifest(blobs_, image_.manifest).value();
  m.config = blobs_.Add(m.config.media_type, Serialize(config));
  Descriptor md =
      blobs_.Add(m.media_type.empty() ? kMediaTypeImageManifest : m.media_type, Serialize(m));
  DockerArchiveImage mismatched{md, {"tiny:v1"}};
  EXPECT_EQ(WriteDockerArchive(sink, blobs_, {&mismatched, 1}).error().code(),
            ErrorCode::kFailedPrecondition);
}

TEST_P(DockerArchiveTest, SkopeoReadsIt) {
  if (!HaveTool("skopeo")) {
    GTEST_SKIP() << "skopeo is not installed";
  }
  DockerArchiveImage img{image_.manifest, {"tiny:v1"}};
  ASSERT_TRUE(WriteArchiveFile(archive_, blobs_, {&img, 1}).ok());

  CommandResult inspect = RunCommand("skopeo inspect 'docker-archive:" + archive_ + "'");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_THAT(inspect.output, HasSubstr("\"Architecture\": \"amd64\""));
  EXPECT_THAT(inspect.output, HasSubstr("\"org.example.test\": \"tiny\""));
  CommandResult by_tag = RunCommand("skopeo inspect 'docker-archive:" + archive_ + ":tiny:v1'");
  ASSERT_EQ(by_tag.exit_code, 0) << by_tag.output;

  // Copying pulls every layer through skopeo's decompression and diff ID check.
  std::string copy = out_.Join("copy");
  CommandResult cp =
      RunCommand("skopeo --insecure-policy copy --quiet 'docker-archive:" + archive_ +
                 "' 'oci:" + copy + ":copied'");
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  auto layout = LayoutReader::OpenDir(copy);
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  Manifest m = ReadManifest(**layout, (*layout)->Resolve("copied").value()).value();
  ImageConfig c = ReadImageConfig(**layout, m.config).value();
  EXPECT_EQ(c.rootfs.diff_ids, image_.config_value.rootfs.diff_ids);

  if (HaveTool("umoci")) {
    std::string bundle = out_.Join("bundle");
    CommandResult unpack =
        RunCommand("umoci unpack --image '" + copy + ":copied' '" + bundle + "'");
    ASSERT_EQ(unpack.exit_code, 0) << unpack.output;
    EXPECT_EQ(os::ReadFile(bundle + "/rootfs/hello.txt").value(), "hello from berth\n");
  }
}

INSTANTIATE_TEST_SUITE_P(MediaTypes, DockerArchiveTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Docker" : "Oci";
                         });

}  // namespace
}  // namespace berth::oci
