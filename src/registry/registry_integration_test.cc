// Integration tests against Debian's real docker-registry on loopback, checked with skopeo.
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "content/local_store.h"
#include "oci/layout.h"
#include "oci/media_types.h"
#include "oci/testing/test_image.h"
#include "registry/client.h"
#include "registry/testing/docker_registry.h"
#include "registry/transfer.h"

namespace berth::registry {
namespace {

using oci::test::HaveTool;
using oci::test::RunCommand;
using oci::test::TempDir;
using test::DockerRegistry;

reference::Reference Ref(const std::string& text) {
  auto r = reference::ParseNormalized(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.value_or(reference::Reference{});
}

oci::PlatformMatcher Amd64() {
  platform::Platform p;
  p.os = "linux";
  p.architecture = "amd64";
  return oci::PlatformMatcher::Compatible(p);
}

ClientOptions FastOptions() {
  ClientOptions o;
  o.retry.initial_backoff = std::chrono::milliseconds(10);
  o.retry.max_backoff = std::chrono::milliseconds(50);
  return o;
}

class RegistryIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DockerRegistry::Available()) {
      GTEST_SKIP() << "docker-registry is not installed (" << DockerRegistry::kBinary << ")";
    }
    auto reg = DockerRegistry::Start(dir_.Join(""));
    ASSERT_TRUE(reg.ok()) << reg.error().ToString();
    registry_ = std::move(reg).value();
    auto image = oci::test::BuildTinyImage(blobs_, dir_.Join(""),
                                           {{"etc/hello", "hello from berth\n"}, {"bin/x", "x"}});
    ASSERT_TRUE(image.ok()) << image.error().ToString();
    image_ = std::move(image).value();
  }

  std::string Host() const { return registry_->host(); }

  Result<std::unique_ptr<content::LocalStore>> NewStore(const std::string& name) {
    return content::LocalStore::Open(dir_.Join(name));
  }

  TempDir dir_;
  std::unique_ptr<DockerRegistry> registry_;
  oci::MemoryBlobSource blobs_;
  oci::test::TinyImage image_;
  Context ctx_ = Context::Background();
};

TEST_F(RegistryIntegration, PushThenSkopeoReads) {
  Client client(FastOptions());
  auto ref = Ref(Host() + "/berth/app:v1");
  ASSERT_TRUE(Push(ctx_, client, blobs_, image_.manifest, {ref}).ok());
  EXPECT_EQ(client.stats().blobs_uploaded, 2u);  // config + layer

  if (!HaveTool("skopeo")) {
    GTEST_SKIP() << "skopeo is not installed";
  }
  auto inspect = RunCommand("skopeo inspect --raw --tls-verify=false docker://" + Host() +
                            "/berth/app:v1 | sha256sum");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_EQ(inspect.output.substr(0, 64), image_.manifest.digest.hex());
  auto info = RunCommand("skopeo inspect --tls-verify=false docker://" + Host() + "/berth/app:v1");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find(image_.manifest.digest.ToString()), std::string::npos) << info.output;
  auto copy = RunCommand("skopeo copy --src-tls-verify=false docker://" + Host() +
                         "/berth/app:v1 oci:" + dir_.Join("copied") + ":v1");
  ASSERT_EQ(copy.exit_code, 0) << copy.output;
  auto layout = oci::LayoutReader::OpenDir(dir_.Join("copied"));
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  auto desc = (*layout)->Resolve("v1");
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->digest, image_.manifest.digest);
}

TEST_F(RegistryIntegration, SkopeoPushesBerthPulls) {
  if (!HaveTool("skopeo")) {
    GTEST_SKIP() << "skopeo is not installed";
  }
  std::vector<oci::LayoutEntry> entries = {{image_.manifest, "v2", ""}};
  ASSERT_TRUE(oci::WriteLayoutDir(dir_.Join("layout"), blobs_, entries).ok());
  auto copy = RunCommand("skopeo copy --preserve-digests --dest-tls-verify=false oci:" +
                         dir_.Join("layout") + ":v2 docker://" + Host() + "/skopeo/img:v2");
  ASSERT_EQ(copy.exit_code, 0) << copy.output;

  Client client(FastOptions());
  auto store = NewStore("store");
  ASSERT_TRUE(store.ok());
  auto pulled = Pull(ctx_, client, Ref(Host() + "/skopeo/img:v2"), Amd64(), **store);
  ASSERT_TRUE(pulled.ok()) << pulled.error().ToString();
  EXPECT_EQ(pulled->manifest.digest, image_.manifest.digest);
  EXPECT_EQ(pulled->root.digest, image_.manifest.digest);
  ASSERT_EQ(pulled->image.layers.size(), 1u);
  for (const auto& d : {image_.manifest.digest, image_.config.digest, image_.layers[0].digest}) {
    EXPECT_TRUE(*(*store)->Exists(ctx_, d)) << d.ToString();
  }
  auto layer = content::ReadBlob(ctx_, **store, image_.layers[0].digest);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(oci::DescribeBlob("x", *layer).digest, image_.layers[0].digest);
}

TEST_F(RegistryIntegration, PullPushPullKeepsDigestsAndSecondPushUploadsNothing) {
  Client client(FastOptions());
  ASSERT_TRUE(Push(ctx_, client, blobs_, image_.manifest, {Ref(Host() + "/a/one:v1")}).ok());

  // Pull with a fresh client (no memory of where blobs are).
  Client puller(FastOptions());
  auto store = NewStore("store1");
  ASSERT_TRUE(store.ok());
  auto first = Pull(ctx_, puller, Ref(Host() + "/a/one:v1"), Amd64(), **store);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(puller.stats().blobs_downloaded, 2u);

  // Push from the store to another registry repository with a third client, twice.
  Client pusher(FastOptions());
  StoreBlobSource source(**store, ctx_);
  auto target = Ref(Host() + "/b/two:v9");
  ASSERT_TRUE(Push(ctx_, pusher, source, first->root, {target}).ok());
  EXPECT_EQ(pusher.stats().blobs_uploaded, 2u);
  uint64_t bytes_after_first = pusher.stats().bytes_uploaded;
  ASSERT_TRUE(Push(ctx_, pusher, source, first->root, {target}).ok());
  EXPECT_EQ(pusher.stats().blobs_uploaded, 2u) << "the second push uploaded a blob";
  EXPECT_EQ(pusher.stats().bytes_uploaded, bytes_after_first);
  EXPECT_EQ(pusher.stats().blobs_skipped, 2u);

  auto store2 = NewStore("store2");
  ASSERT_TRUE(store2.ok());
  auto second = Pull(ctx_, puller, target, Amd64(), **store2);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->root, first->root);
  EXPECT_EQ(second->manifest, first->manifest);
  EXPECT_EQ(second->image, first->image);
  EXPECT_EQ(second->manifest.digest, image_.manifest.digest);

  // Resolve agrees (HEAD).
  auto resolved = puller.Resolve(ctx_, target);
  ASSERT_TRUE(resolved.ok()) << resolved.error().ToString();
  EXPECT_EQ(resolved->digest, image_.manifest.digest);
  EXPECT_EQ(resolved->size, image_.manifest.size);
  EXPECT_EQ(resolved->media_type, oci::kMediaTypeImageManifest);
}

TEST_F(RegistryIntegration, CrossRepositoryMount) {
  // One push to two repositories of one registry: the second mounts.
  Client client(FastOptions());
  ASSERT_TRUE(Push(ctx_, client, blobs_, image_.manifest,
                   {Ref(Host() + "/m/first:v1"), Ref(Host() + "/m/second:v1"),
                    Ref(Host() + "/m/second:latest")})
                  .ok());
  EXPECT_EQ(client.stats().blobs_uploaded, 2u);
  EXPECT_EQ(client.stats().blobs_mounted, 2u);

  // A later push to a third repository with the same client mounts too.
  ASSERT_TRUE(Push(ctx_, client, blobs_, image_.manifest, {Ref(Host() + "/m/third:v1")}).ok());
  EXPECT_EQ(client.stats().blobs_uploaded, 2u);
  EXPECT_EQ(client.stats().blobs_mounted, 4u);

  auto tags = client.ListTags(ctx_, Ref(Host() + "/m/second"));
  ASSERT_TRUE(tags.ok()) << tags.error().ToString();
  std::sort(tags->begin(), tags->end());
  EXPECT_EQ(*tags, (std::vector<std::string>{"latest", "v1"}));
  for (const char* repo : {"/m/second:v1", "/m/third:v1"}) {
    auto d = client.Resolve(ctx_, Ref(Host() + repo));
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    EXPECT_EQ(d->digest, image_.manifest.digest);
  }
}

TEST_F(RegistryIntegration, IndexPlatformSelectionAndTagPagination) {
  oci::MemoryBlobSource blobs;
  auto amd = oci::test::BuildTinyImage(blobs, dir_.Join(""), {{"arch", "amd64"}}, "amd64");
  ASSERT_TRUE(amd.ok());
  auto arm = oci::test::BuildTinyImage(blobs, dir_.Join(""), {{"arch", "arm64"}}, "arm64");
  ASSERT_TRUE(arm.ok());
  oci::Index index;
  index.media_type = std::string(oci::kMediaTypeImageIndex);
  for (auto [img, arch] : {std::pair{&*amd, "amd64"}, std::pair{&*arm, "arm64"}}) {
    oci::Descriptor d = img->manifest;
    d.platform = oci::Platform{};
    d.platform->os = "linux";
    d.platform->architecture = arch;
    index.manifests.push_back(d);
  }
  oci::Descriptor root = blobs.Add(oci::kMediaTypeImageIndex, oci::Serialize(index));

  Client client(FastOptions());
  std::vector<reference::Reference> targets;
  for (int i = 0; i < 5; ++i) {
    targets.push_back(Ref(Host() + "/multi/img:t" + std::to_string(i)));
  }
  ASSERT_TRUE(Push(ctx_, client, blobs, root, targets).ok());

  auto store = NewStore("store");
  ASSERT_TRUE(store.ok());
  platform::Platform want;
  want.os = "linux";
  want.architecture = "arm64";
  auto pulled = Pull(ctx_, client, targets[3], oci::PlatformMatcher::Compatible(want), **store);
  ASSERT_TRUE(pulled.ok()) << pulled.error().ToString();
  EXPECT_EQ(pulled->root.digest, root.digest);
  EXPECT_EQ(pulled->root.media_type, oci::kMediaTypeImageIndex);
  EXPECT_EQ(pulled->manifest.digest, arm->manifest.digest);
  EXPECT_TRUE(*(*store)->Exists(ctx_, arm->layers[0].digest));
  EXPECT_FALSE(*(*store)->Exists(ctx_, amd->layers[0].digest));

  platform::Platform s390;
  s390.os = "linux";
  s390.architecture = "s390x";
  auto none = Pull(ctx_, client, targets[0], oci::PlatformMatcher::Compatible(s390), **store);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);

  // docker-registry 2.8 answers in one page whatever n asks; the fault tests cover Link pages.
  auto tags = client.ListTags(ctx_, targets[0], /*page_size=*/2);
  ASSERT_TRUE(tags.ok()) << tags.error().ToString();
  std::sort(tags->begin(), tags->end());
  EXPECT_EQ(*tags, (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
}

TEST_F(RegistryIntegration, ChunkedUploadAndStreamingFetch) {
  ClientOptions options = FastOptions();
  options.chunk_size = 1000;
  Client client(std::move(options));
  std::string data;
  for (int i = 0; i < 3500; ++i) {
    data.push_back(static_cast<char>('a' + (i * 7) % 26));
  }
  oci::MemoryBlobSource blobs;
  oci::Descriptor desc = blobs.Add("application/octet-stream", data);
  auto repo = Ref(Host() + "/chunked/blob");
  std::vector<BlobProgress> events;
  std::mutex mu;
  ProgressFn progress = [&](const BlobProgress& p) {
    std::lock_guard lock(mu);
    events.push_back(p);
  };
  auto pushed = client.PushBlob(ctx_, repo, desc, blobs, "", progress);
  ASSERT_TRUE(pushed.ok()) << pushed.error().ToString();
  EXPECT_EQ(client.stats().blobs_uploaded, 1u);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state, BlobProgress::State::kDone);
  EXPECT_EQ(events.back().done, data.size());
  EXPECT_TRUE(*client.BlobExists(ctx_, repo, desc.digest));

  StringWriter out;
  ASSERT_TRUE(client.FetchBlob(ctx_, repo, desc, out).ok());
  EXPECT_EQ(out.data(), data);

  // A wrong expected digest is caught while fetching.
  oci::Descriptor wrong = desc;
  auto other = Ref(Host() + "/chunked/other");
  oci::Descriptor small = blobs.Add("application/octet-stream", "small");
  ASSERT_TRUE(client.PushBlob(ctx_, other, small, blobs).ok());
  wrong.digest = small.digest;
  StringWriter out2;
  auto bad = client.FetchBlob(ctx_, other, wrong, out2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kDataLoss) << bad.error().ToString();

  auto missing = client.Resolve(ctx_, Ref(Host() + "/chunked/blob:nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().ToString();
  EXPECT_NE(missing.error().ToString().find("chunked/blob:nope"), std::string::npos)
      << missing.error().ToString();
}

class AuthRegistryIntegration : public ::testing::Test {};

TEST_F(AuthRegistryIntegration, BasicAuth) {
  if (!DockerRegistry::Available()) {
    GTEST_SKIP() << "docker-registry is not installed";
  }
  TempDir dir;
  auto written = test::WriteHtpasswd(dir.Join("htpasswd"), "alice", "s3cret");
  if (!written.ok()) {
    GTEST_SKIP() << written.error().ToString();
  }
  auto reg = DockerRegistry::Start(dir.Join(""), dir.Join("htpasswd"));
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  oci::MemoryBlobSource blobs;
  auto image = oci::test::BuildTinyImage(blobs, dir.Join(""), {{"f", "auth"}});
  ASSERT_TRUE(image.ok());
  Context ctx = Context::Background();
  auto ref = Ref((*reg)->host() + "/private/img:v1");

  Client anonymous(FastOptions());
  auto denied = Push(ctx, anonymous, blobs, image->manifest, {ref});
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthenticated) << denied.error().ToString();
  EXPECT_NE(denied.error().ToString().find((*reg)->host()), std::string::npos);
  EXPECT_NE(denied.error().ToString().find("docker login"), std::string::npos);

  ClientOptions wrong_options = FastOptions();
  wrong_options.credentials.Set((*reg)->host(), {"alice", "wrong"});
  Client wrong(std::move(wrong_options));
  auto refused = wrong.Resolve(ctx, ref);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnauthenticated) << refused.error().ToString();

  ClientOptions options = FastOptions();
  auto config =
      DockerConfig::Parse(R"({"auths":{")" + (*reg)->host() + R"(":{"auth":"YWxpY2U6czNjcmV0"}}})");
  ASSERT_TRUE(config.ok());
  options.credentials = *config;
  Client client(std::move(options));
  auto pushed = Push(ctx, client, blobs, image->manifest, {ref});
  ASSERT_TRUE(pushed.ok()) << pushed.error().ToString();
  auto store = content::LocalStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok());
  auto pulled = Pull(ctx, client, ref, Amd64(), **store);
  ASSERT_TRUE(pulled.ok()) << pulled.error().ToString();
  EXPECT_EQ(pulled->manifest.digest, image->manifest.digest);
  if (HaveTool("skopeo")) {
    auto inspect = RunCommand("skopeo inspect --tls-verify=false --creds alice:s3cret docker://" +
                              ref.domain + "/" + ref.path + ":v1");
    EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  }
}

// An insecure registry under a non-loopback address, speaking plain HTTP with basic auth, and
// credentials from a credential helper (a shell script on PATH): the client tries HTTPS, falls
// back to HTTP, asks the helper, and round-trips the image.
TEST_F(AuthRegistryIntegration, InsecureRegistryWithACredentialHelper) {
  if (!DockerRegistry::Available()) {
    GTEST_SKIP() << "docker-registry is not installed";
  }
  std::string ip = test::NonLoopbackIPv4();
  if (ip.empty()) {
    GTEST_SKIP() << "no non-loopback IPv4 address: loopback registries are always plain HTTP";
  }
  TempDir dir;
  auto written = test::WriteHtpasswd(dir.Join("htpasswd"), "carol", "pa55");
  if (!written.ok()) {
    GTEST_SKIP() << written.error().ToString();
  }
  auto reg = DockerRegistry::Start(dir.Join(""), dir.Join("htpasswd"), ip);
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string host = (*reg)->host();

  std::string bin = dir.Join("bin");
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  std::string helper = bin + "/docker-credential-berthtest";
  FILE* f = fopen(helper.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string script = "#!/bin/sh\nread url\n";
  script += "[ \"$url\" = '" + host + "' ] || ";
  script += "{ echo 'credentials not found in native keychain'; exit 1; }\n";
  script += R"(echo '{"ServerURL":"x","Username":"carol","Secret":"pa55"}')";
  script += "\n";
  fputs(script.c_str(), f);
  fclose(f);
  ASSERT_EQ(::chmod(helper.c_str(), 0755), 0);
  const char* path = getenv("PATH");
  std::string saved_path = path != nullptr ? path : "";
  setenv("PATH", (bin + ":" + saved_path).c_str(), 1);

  oci::MemoryBlobSource blobs;
  auto image = oci::test::BuildTinyImage(blobs, dir.Join(""), {{"f", "insecure"}});
  ASSERT_TRUE(image.ok());
  Context ctx = Context::Background();
  auto ref = Ref(host + "/private/img:v1");
  ClientOptions options = FastOptions();
  options.config.SetInsecure(host, true);
  auto config = DockerConfig::Parse(R"({"credsStore":"berthtest"})");
  ASSERT_TRUE(config.ok());
  options.credentials = *config;
  Client client(std::move(options));
  auto pushed = Push(ctx, client, blobs, image->manifest, {ref});
  auto store = content::LocalStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok());
  auto pulled =
      pushed.ok() ? Pull(ctx, client, ref, Amd64(), **store) : Result<PullResult>(pushed.error());
  setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(pushed.ok()) << pushed.error().ToString();
  ASSERT_TRUE(pulled.ok()) << pulled.error().ToString();
  EXPECT_EQ(pulled->manifest.digest, image->manifest.digest);

  // Not marked insecure, the same registry is HTTPS only: a transport error, no silent HTTP.
  ClientOptions strict_options = FastOptions();
  strict_options.retry.max_attempts = 1;
  Client strict(std::move(strict_options));
  auto refused = strict.Resolve(ctx, ref);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable) << refused.error().ToString();
  EXPECT_NE(refused.error().ToString().find("https://" + host), std::string::npos)
      << refused.error().ToString();
}

}  // namespace
}  // namespace berth::registry
