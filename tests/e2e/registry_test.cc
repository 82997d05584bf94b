// berthd's registry with real clients: skopeo copies an OCI layout (made by umoci) into berthd
// and back out byte for byte, lists and deletes tags, logs in through the bearer-token flow with
// x-token credentials; podman logs in, pulls and pushes; registry tokens scoped to pull cannot
// push and another project's token cannot read; an upload interrupted by kill -9 shows no blob
// and resumes after a restart.
#include <sys/wait.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "berthd_fixture.h"
#include "digest/digest.h"
#include "os/file.h"
#include "registry/auth.h"
#include "registry/http.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

struct Cmd {
  int exit_code = -1;
  std::string out;
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

class RegistryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"skopeo", "umoci"}) {
      if (std::system((std::string("command -v ") + tool + " >/dev/null").c_str()) != 0) {
        GTEST_SKIP() << tool << " is not installed (scripts/setup installs it)";
      }
    }
    char tmpl[] = "/tmp/berth-registry-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    StartBerthd();
    project_ = berthd_->CreateProject("web");
    other_ = berthd_->CreateProject("api");
    ASSERT_FALSE(project_.empty());
    token_ = berthd_->CreateProjectToken(project_);
    other_token_ = berthd_->CreateProjectToken(other_);
    ASSERT_FALSE(token_.empty());
    // The image: umoci's empty image plus one layer with two files.
    ASSERT_EQ(
        Run("mkdir -p " + dir_ + "/rootfs/etc && echo hello > " + dir_ +
            "/rootfs/etc/greeting && head -c 300000 /dev/urandom > " + dir_ +
            "/rootfs/noise && umoci init --layout " + dir_ + "/src && umoci new --image " + dir_ +
            "/src:v1 && umoci insert --image " + dir_ + "/src:v1 " + dir_ + "/rootfs /")
            .exit_code,
        0)
        << last_.out;
  }

  void TearDown() override {
    berthd_.reset();
    if (!dir_.empty()) {
      std::system(("rm -rf " + Quote(dir_)).c_str());
    }
  }

  void StartBerthd() {
    berthd_.reset();
    berthd_ = std::make_unique<Berthd>(dir_ + "/root", dir_ + "/berthd.log");
    ASSERT_FALSE(berthd_->url().empty()) << "berthd did not come up: " << berthd_->log();
    host_ = berthd_->host();
  }

  Cmd Run(const std::string& command) {
    std::string out = dir_ + "/cmd.out";
    int status = std::system((command + " >" + out + " 2>&1").c_str());
    last_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    last_.out = os::ReadFile(out).value_or("");
    return last_;
  }

  std::string Creds(const std::string& secret) { return Quote("x-token:" + secret); }

  // A second image in the layout (src:v2), then an index over v1 (linux/amd64) and v2
  // (linux/arm64) tagged "multi". Returns the index; `manifests` gets its entries.
  std::string MakeTwoPlatformIndex(json& manifests) {
    EXPECT_EQ(Run("umoci new --image " + dir_ + "/src:v2 && umoci insert --image " + dir_ +
                  "/src:v2 " + dir_ + "/rootfs/etc /etc")
                  .exit_code,
              0)
        << last_.out;
    std::string layout = dir_ + "/src";
    json index_file =
        json::parse(os::ReadFile(layout + "/index.json").value_or(""), nullptr, false);
    manifests = json::array();
    for (const json& m : index_file["manifests"]) {
      std::string tag = m["annotations"].value("org.opencontainers.image.ref.name", "");
      json d = {{"mediaType", m["mediaType"]}, {"digest", m["digest"]}, {"size", m["size"]}};
      d["platform"] = {{"os", "linux"}, {"architecture", tag == "v1" ? "amd64" : "arm64"}};
      manifests.push_back(d);
    }
    EXPECT_EQ(manifests.size(), 2u);
    std::string index = json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.index.v1+json"},
        {"manifests",
         manifests}}.dump();
    std::string index_digest = digest::FromBytes(index).ToString();
    EXPECT_TRUE(
        os::WriteFileAtomic(layout + "/blobs/sha256/" + index_digest.substr(7), index).ok());
    index_file["manifests"].push_back(
        {{"mediaType", "application/vnd.oci.image.index.v1+json"},
         {"digest", index_digest},
         {"size", index.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}});
    EXPECT_TRUE(os::WriteFileAtomic(layout + "/index.json", index_file.dump()).ok());
    return index;
  }
  std::string Ref(const std::string& repo_tag) { return "docker://" + host_ + "/" + repo_tag; }

  // The raw manifest skopeo reads at `ref` (with `flags`).
  std::string RawManifest(const std::string& flags, const std::string& ref) {
    Cmd c = Run("skopeo inspect --raw " + flags + " " + ref);
    EXPECT_EQ(c.exit_code, 0) << c.out;
    return c.out;
  }

  registry::HttpResponse Http(const std::string& method, const std::string& path,
                              const std::string& auth, const std::string& body = "",
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
    registry::HttpRequest req;
    req.method = method;
    req.url = berthd_->url() + path;
    req.headers = std::move(headers);
    if (!auth.empty()) {
      req.headers.emplace_back("Authorization", auth);
    }
    req.body = body;
    Result<registry::HttpResponse> r = http_.Do(Context::Background(), req);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : registry::HttpResponse{};
  }

  // A registry token from berthd's token endpoint.
  std::string RegistryToken(const std::string& secret, const std::string& scope) {
    registry::HttpResponse r =
        Http("GET", "/v2/token?service=berthd&scope=" + registry::QueryEscape(scope),
             "Basic " + registry::Base64Encode("x-token:" + secret));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }

  std::string dir_;
  std::unique_ptr<Berthd> berthd_;
  std::string host_;
  std::string project_;
  std::string other_;
  std::string token_;
  std::string other_token_;
  Cmd last_;
  registry::HttpClient http_;
};

TEST_F(RegistryE2eTest, SkopeoCopiesInAndOutUnchanged) {
  std::string dest = Ref(project_ + "/app:v1");
  ASSERT_EQ(Run("skopeo copy --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + dir_ + "/src:v1 " + dest)
                .exit_code,
            0)
      << last_.out << berthd_->log();
  std::string source = RawManifest("", "oci:" + dir_ + "/src:v1");
  EXPECT_EQ(RawManifest("--tls-verify=false --creds " + Creds(token_), dest), source);
  // A second push finds every blob there already.
  ASSERT_EQ(Run("skopeo copy --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + dir_ + "/src:v1 " + Ref(project_ + "/app:v2"))
                .exit_code,
            0)
      << last_.out;
  // Back out into a fresh layout: the same manifest and the same blob files.
  ASSERT_EQ(Run("skopeo copy --src-tls-verify=false --src-creds " + Creds(token_) + " " + dest +
                " oci:" + dir_ + "/out:v1")
                .exit_code,
            0)
      << last_.out;
  EXPECT_EQ(RawManifest("", "oci:" + dir_ + "/out:v1"), source);
  // (The source layout also keeps the blobs of umoci's image before the insert.)
  EXPECT_EQ(Run("cd " + dir_ +
                "/out/blobs && test $(ls sha256 | wc -l) -eq 3 && for f in "
                "sha256/*; do cmp $f " +
                dir_ + "/src/blobs/$f || exit 1; done")
                .exit_code,
            0)
      << last_.out;
  // Tags, then a delete by digest.
  Cmd tags = Run("skopeo list-tags --tls-verify=false --creds " + Creds(token_) + " " +
                 Ref(project_ + "/app"));
  ASSERT_EQ(tags.exit_code, 0) << tags.out;
  json list = json::parse(tags.out, nullptr, false);
  EXPECT_EQ(list["Tags"], json::array({"v1", "v2"})) << tags.out;
  std::string digest = digest::FromBytes(source).ToString();
  ASSERT_EQ(Run("skopeo delete --tls-verify=false --creds " + Creds(token_) + " " +
                Ref(project_ + "/app@" + digest))
                .exit_code,
            0)
      << last_.out;
  EXPECT_NE(Run("skopeo inspect --raw --tls-verify=false --creds " + Creds(token_) + " " + dest)
                .exit_code,
            0);
}

TEST_F(RegistryE2eTest, MultiPlatformIndexIsKeptIntact) {
  json manifests;
  std::string index = MakeTwoPlatformIndex(manifests);
  std::string layout = dir_ + "/src";
  std::string dest = Ref(project_ + "/multi:v1");
  ASSERT_EQ(Run("skopeo copy --all --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + layout + ":multi " + dest)
                .exit_code,
            0)
      << last_.out;
  EXPECT_EQ(RawManifest("--tls-verify=false --creds " + Creds(token_), dest), index);
  // Each platform's manifest is there by digest.
  for (const json& m : manifests) {
    EXPECT_EQ(Run("skopeo inspect --raw --tls-verify=false --creds " + Creds(token_) + " " +
                  Ref(project_ + "/multi@" + m["digest"].get<std::string>()))
                  .exit_code,
              0)
        << last_.out;
  }
  ASSERT_EQ(Run("skopeo copy --all --src-tls-verify=false --src-creds " + Creds(token_) + " " +
                dest + " oci:" + dir_ + "/out:multi")
                .exit_code,
            0)
      << last_.out;
  EXPECT_EQ(RawManifest("", "oci:" + dir_ + "/out:multi"), index);
}

// A multi-platform image in the project's repository is a saved image like a build's: `berth
// push` copies the index intact (every platform), `berth pull` takes the host's platform.
TEST_F(RegistryE2eTest, SavedMultiPlatformImagesPushIntactAndPullTheHostPlatform) {
  if (!registry::test::DockerRegistry::Available()) {
    FAIL() << "docker-registry is not installed (scripts/setup installs it)";
  }
  json manifests;
  std::string index = MakeTwoPlatformIndex(manifests);
  std::string layout = dir_ + "/src";
  std::string amd64;
  for (const json& m : manifests) {
    if (m["platform"]["architecture"] == "amd64") {
      amd64 = m["digest"].get<std::string>();
    }
  }
  ASSERT_EQ(Run("skopeo copy --all --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + layout + ":multi " + Ref(project_ + ":multi"))
                .exit_code,
            0)
      << last_.out;

  ASSERT_EQ(Run("mkdir -p " + dir_ + "/registry").exit_code, 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string berth = "env BERTH_ROOT=" + dir_ + "/local " + std::string(BERTH_BIN) + "/berth ";
  std::string server = " --host " + host_ + " --token " + token_ + " --project " + project_;
  std::string target = (*reg)->host() + "/copies/multi:v1";
  ASSERT_EQ(Run(berth + "push multi -t " + target + server).exit_code, 0) << last_.out;
  EXPECT_EQ(RawManifest("--tls-verify=false", "docker://" + target), index);
  for (const json& m : manifests) {
    EXPECT_EQ(Run("skopeo inspect --raw --tls-verify=false docker://" + (*reg)->host() +
                  "/copies/multi@" + m["digest"].get<std::string>())
                  .exit_code,
              0)
        << last_.out;
  }
  ASSERT_EQ(Run(berth + "pull multi -t multi:local" + server).exit_code, 0) << last_.out;
  EXPECT_NE(last_.out.find(amd64), std::string::npos) << last_.out;
  // Listed as an index.
  ASSERT_EQ(Run(berth + "image ls --output json" + server).exit_code, 0) << last_.out;
  EXPECT_NE(last_.out.find("application/vnd.oci.image.index.v1+json"), std::string::npos)
      << last_.out;
}

TEST_F(RegistryE2eTest, TokensReachOnlyTheirProjectAndScope) {
  std::string dest = Ref(project_ + "/app:v1");
  ASSERT_EQ(Run("skopeo copy --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + dir_ + "/src:v1 " + dest)
                .exit_code,
            0)
      << last_.out;
  // Another project's token: the repository does not exist for it.
  Cmd c =
      Run("skopeo inspect --raw --tls-verify=false --creds " + Creds(other_token_) + " " + dest);
  EXPECT_NE(c.exit_code, 0);
  // No credentials at all.
  c = Run("skopeo inspect --raw --tls-verify=false --no-creds " + dest);
  EXPECT_NE(c.exit_code, 0);
  // A pull-only registry token pulls but cannot push.
  std::string pull = RegistryToken(token_, "repository:" + project_ + "/app:pull");
  ASSERT_FALSE(pull.empty());
  c = Run("skopeo copy --src-tls-verify=false --src-registry-token " + Quote(pull) + " " + dest +
          " oci:" + dir_ + "/pulled:v1");
  EXPECT_EQ(c.exit_code, 0) << c.out;
  c = Run("skopeo copy --dest-tls-verify=false --dest-registry-token " + Quote(pull) +
          " oci:" + dir_ + "/src:v1 " + Ref(project_ + "/app:v9"));
  EXPECT_NE(c.exit_code, 0);
  EXPECT_NE(c.out.find("denied"), std::string::npos) << c.out;
  // The pull token as a password (skopeo --creds, docker login): pulls, never pushes.
  c = Run("skopeo copy --src-tls-verify=false --src-creds " + Creds(pull) + " " + dest +
          " oci:" + dir_ + "/pulled2:v1");
  EXPECT_EQ(c.exit_code, 0) << c.out;
  c = Run("skopeo copy --dest-tls-verify=false --dest-creds " + Creds(pull) + " oci:" + dir_ +
          "/src:v1 " + Ref(project_ + "/app:v9"));
  EXPECT_NE(c.exit_code, 0);
  // A registry token asked for by another project's token grants nothing here.
  std::string foreign = RegistryToken(other_token_, "repository:" + project_ + "/app:pull");
  c = Run("skopeo inspect --raw --tls-verify=false --registry-token " + Quote(foreign) + " " +
          dest);
  EXPECT_NE(c.exit_code, 0);
}

TEST_F(RegistryE2eTest, PodmanLogsInPullsAndPushes) {
  if (std::system("command -v podman >/dev/null") != 0) {
    GTEST_SKIP() << "podman is not installed (scripts/setup installs it)";
  }
  ASSERT_EQ(Run("skopeo copy --dest-tls-verify=false --dest-creds " + Creds(token_) +
                " oci:" + dir_ + "/src:v1 " + Ref(project_ + "/app:v1"))
                .exit_code,
            0)
      << last_.out;
  // Podman with its own storage (vfs: no mounts) and its own auth file, all in the test's dir.
  std::string podman = "REGISTRY_AUTH_FILE=" + dir_ + "/auth.json podman --root " + dir_ +
                       "/podman/storage --runroot " + dir_ + "/podman/run --storage-driver vfs";
  std::string image = host_ + "/" + project_ + "/app";
  // Logged in with another project's token (login itself only checks the token), a pull fails.
  ASSERT_EQ(
      Run(podman + " login --tls-verify=false -u x-token -p " + Quote(other_token_) + " " + host_)
          .exit_code,
      0)
      << last_.out;
  EXPECT_NE(Run(podman + " pull --tls-verify=false " + image + ":v1").exit_code, 0);
  ASSERT_EQ(Run(podman + " login --tls-verify=false -u x-token -p " + Quote(token_) + " " + host_)
                .exit_code,
            0)
      << last_.out;
  ASSERT_EQ(Run(podman + " pull --tls-verify=false " + image + ":v1").exit_code, 0) << last_.out;
  ASSERT_EQ(Run(podman + " tag " + image + ":v1 " + image + ":from-podman").exit_code, 0)
      << last_.out;
  ASSERT_EQ(Run(podman + " push --tls-verify=false " + image + ":from-podman").exit_code, 0)
      << last_.out;
  // What podman pushed reads back, with the same layer content.
  Cmd c = Run("skopeo inspect --tls-verify=false --creds " + Creds(token_) + " docker://" + image +
              ":from-podman");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  json pushed = json::parse(c.out, nullptr, false);
  c = Run("skopeo inspect oci:" + dir_ + "/src:v1");
  json source = json::parse(c.out, nullptr, false);
  ASSERT_TRUE(pushed.is_object() && source.is_object());
  EXPECT_EQ(pushed["Layers"].size(), source["Layers"].size());
  EXPECT_EQ(pushed["Os"], "linux");
  Run(podman + " rmi -a -f");
}

TEST_F(RegistryE2eTest, RegistryUrlSetsTheTokenRealm) {
  berthd_.reset();
  berthd_ = std::make_unique<Berthd>(
      dir_ + "/root", dir_ + "/berthd.log",
      std::vector<std::string>{"--registry-url", "https://registry.example.com"});
  ASSERT_FALSE(berthd_->url().empty()) << berthd_->log();
  registry::HttpResponse r = Http("GET", "/v2/", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.Get("WWW-Authenticate"),
            R"(Bearer realm="https://registry.example.com/v2/token",service="berthd")");
  // And from the config file.
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ + "/berthd.toml", "registry_url = \"http://r.test:1\"\n").ok());
  berthd_.reset();
  berthd_ = std::make_unique<Berthd>(dir_ + "/root", dir_ + "/berthd.log",
                                     std::vector<std::string>{"--config", dir_ + "/berthd.toml"});
  ASSERT_FALSE(berthd_->url().empty()) << berthd_->log();
  EXPECT_EQ(Http("GET", "/v2/", "").headers.Get("WWW-Authenticate"),
            R"(Bearer realm="http://r.test:1/v2/token",service="berthd")");
}

// A request body that sends `data`, then stalls until released, then fails: a client caught
// in the middle of a push.
class StallingReader final : public Reader {
 public:
  explicit StallingReader(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buf, size_t size) override {
    if (pos_ < data_.size()) {
      size_t n = std::min(size, data_.size() - pos_);
      std::memcpy(buf, data_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    std::unique_lock lock(mu_);
    released_cv_.wait(lock, [this] { return released_; });
    return Error::Unavailable("the client went away");
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }

 private:
  std::string data_;
  size_t pos_ = 0;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
};

TEST_F(RegistryE2eTest, KillDuringAChunkShowsNoBlobAndTheUploadResumes) {
  std::string auth = "Basic " + registry::Base64Encode("x-token:" + token_);
  std::string data(4 << 20, 'q');
  for (size_t i = 0; i < data.size(); i += 7) {
    data[i] = static_cast<char>('a' + i % 26);
  }
  std::string digest = digest::FromBytes(data).ToString();
  std::string repo = "/v2/" + project_ + "/big";
  registry::HttpResponse r = Http("POST", repo + "/blobs/uploads/", auth);
  ASSERT_EQ(r.status, 202);
  std::string location = r.headers.Get("Location");
  // A PATCH announcing the whole blob sends half of it and stalls.
  StallingReader body(data.substr(0, data.size() / 2));
  std::thread patch([&] {
    registry::HttpClient client;
    registry::HttpRequest req;
    req.method = "PATCH";
    req.url = berthd_->url() + location;
    req.headers = {{"Authorization", auth}, {"Content-Type", "application/octet-stream"}};
    req.body_reader = &body;
    req.body_size = static_cast<int64_t>(data.size());
    (void)client.Do(Context::Background(), req);  // Fails: berthd is killed under it.
  });
  // Wait until berthd has written some of it into the session (the status reads the ingest).
  uint64_t written = 0;
  for (int i = 0; i < 3000 && written == 0; ++i) {
    std::string range = Http("GET", location, auth).headers.Get("Range");
    written = range.size() > 2 && range != "0-0" ? std::stoull(range.substr(2)) + 1 : 0;
    if (written == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  berthd_->Stop(SIGKILL);
  body.Release();
  patch.join();
  ASSERT_GT(written, 0u) << "berthd never wrote the chunk";
  StartBerthd();
  EXPECT_EQ(Http("HEAD", repo + "/blobs/" + digest, auth).status, 404);
  // The session survived the crash with what reached the disk; the rest completes it.
  r = Http("GET", location, auth);
  ASSERT_EQ(r.status, 204) << r.body;
  std::string range = r.headers.Get("Range");
  ASSERT_TRUE(range.starts_with("0-")) << range;
  uint64_t have = std::stoull(range.substr(2)) + 1;
  EXPECT_GE(have, written);
  EXPECT_LE(have, data.size() / 2);
  r = Http("PUT", location + "?digest=" + digest, auth, data.substr(have),
           {{"Content-Range", std::to_string(have) + "-" + std::to_string(data.size() - 1)}});
  ASSERT_EQ(r.status, 201) << r.body;
  r = Http("GET", repo + "/blobs/" + digest, auth);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == data) << "pulled blob differs";
}

}  // namespace
}  // namespace berth::e2e
