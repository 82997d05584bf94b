// berthd's registry against Debian's docker-registry (the CNCF distribution server) on the same
// requests: one table of good and bad requests, played in order against each server (the rows
// build on each other: an upload session, then its chunks, ...), and every answer's status and
// error code compared with the table's. Rows where berthd differs on purpose say why and what
// berthd answers instead (docs/decisions/0006-registry-server.md).
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "berthd_fixture.h"
#include "digest/digest.h"
#include "registry/auth.h"
#include "registry/http.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

std::string Sha(std::string_view data) {
  return digest::FromBytes(data).ToString();
}

const std::string kZero = "sha256:" + std::string(64, '0');
const std::string kConfig = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
const std::string kLayer = "not really a tar, but a blob all the same";
const std::string kHello = "hello";

std::string Manifest(const std::string& layer_digest, size_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         Sha(kConfig) + R"(","size":)" + std::to_string(kConfig.size()) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
         layer_digest + R"(","size":)" + std::to_string(layer_size) + "}]}";
}

const std::string kManifest = Manifest(Sha(kLayer), kLayer.size());
const std::string kMissingLayer = Manifest(kZero, 9);

std::string Index(const std::string& child) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
         R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         child + R"(","size":)" + std::to_string(kManifest.size()) + "}]}";
}

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request and the answer both servers must give. In `path`, "{repo}" is the repository,
// "{mirror}" a second one, and "{loc}" the last upload session's Location; `query` is added to
// the path with '?' or '&' as needed (upload Locations may hold a query already).
struct Row {
  std::string name;
  std::string method;
  std::string path;
  std::string query;
  Headers headers;
  std::string body;
  int status = 0;
  std::string code;  // The first error code of the body; "" for none (successes, HEAD).
  // Set when berthd answers otherwise on purpose: why, and berthd's status and code.
  std::string differs;
  int berthd_status = 0;
  std::string berthd_code;
};

std::vector<Row> Table() {
  Headers oct = {{"Content-Type", "application/octet-stream"}};
  Headers accept = {{"Accept", std::string(kOciManifest) + ", " + kOciIndex}};
  Headers put_manifest = {{"Content-Type", kOciManifest}};
  Headers put_index = {{"Content-Type", kOciIndex}};
  std::string blob = "/v2/{repo}/blobs/";
  std::string uploads = "/v2/{repo}/blobs/uploads/";
  std::string manifests = "/v2/{repo}/manifests/";
  return {
      {.name = "api version check", .method = "GET", .path = "/v2/", .status = 200},
      {.name = "tags of an empty repository",
       .method = "GET",
       .path = "/v2/{repo}/tags/list",
       .status = 404,
       .code = "NAME_UNKNOWN"},
      {.name = "unknown blob",
       .method = "GET",
       .path = blob + Sha(kLayer),
       .status = 404,
       .code = "BLOB_UNKNOWN"},
      {.name = "unknown blob, HEAD", .method = "HEAD", .path = blob + Sha(kLayer), .status = 404},
      {.name = "malformed digest",
       .method = "GET",
       .path = blob + "sha256:zz",
       .status = 400,
       .code = "DIGEST_INVALID"},
      {.name = "unknown algorithm",
       .method = "GET",
       .path = blob + "md5:" + std::string(32, '0'),
       .status = 400,
       .code = "DIGEST_INVALID"},
      {.name = "unknown tag",
       .method = "GET",
       .path = manifests + "latest",
       .headers = accept,
       .status = 404,
       .code = "MANIFEST_UNKNOWN"},
      {.name = "unknown manifest digest",
       .method = "GET",
       .path = manifests + kZero,
       .headers = accept,
       .status = 404,
       .code = "MANIFEST_UNKNOWN"},
      // A session in two steps: a chunk, its status, the final PUT.
      {.name = "start an upload", .method = "POST", .path = uploads, .status = 202},
      {.name = "chunk",
       .method = "PATCH",
       .path = "{loc}",
       .headers = oct,
       .body = kHello,
       .status = 202},
      {.name = "upload status", .method = "GET", .path = "{loc}", .status = 204},
      {.name = "finish with the digest",
       .method = "PUT",
       .path = "{loc}",
       .query = "digest=" + Sha(kHello),
       .headers = oct,
       .status = 201},
      {.name = "pull it", .method = "GET", .path = blob + Sha(kHello), .status = 200},
      {.name = "pull a range",
       .method = "GET",
       .path = blob + Sha(kHello),
       .headers = {{"Range", "bytes=1-3"}},
       .status = 206},
      {.name = "range past the end (HEAD: docker-registry's GET sends a short body)",
       .method = "HEAD",
       .path = blob + Sha(kHello),
       .headers = {{"Range", "bytes=10-20"}},
       .status = 416},
      // Bad finishes.
      {.name = "start an upload (2)", .method = "POST", .path = uploads, .status = 202},
      {.name = "finish with a wrong digest",
       .method = "PUT",
       .path = "{loc}",
       .query = "digest=" + Sha("something else"),
       .headers = oct,
       .body = "content",
       .status = 400,
       .code = "DIGEST_INVALID"},
      {.name = "start an upload (3)", .method = "POST", .path = uploads, .status = 202},
      {.name = "finish without a digest",
       .method = "PUT",
       .path = "{loc}",
       .headers = oct,
       .body = "x",
       .status = 400,
       .code = "DIGEST_INVALID"},
      {.name = "start an upload (4)", .method = "POST", .path = uploads, .status = 202},
      {.name = "finish with a malformed digest",
       .method = "PUT",
       .path = "{loc}",
       .query = "digest=bogus",
       .headers = oct,
       .body = "x",
       .status = 400,
       .code = "DIGEST_INVALID"},
      // Cancel.
      {.name = "start an upload (5)", .method = "POST", .path = uploads, .status = 202},
      {.name = "cancel it", .method = "DELETE", .path = "{loc}", .status = 204},
      {.name = "cancel it again",
       .method = "DELETE",
       .path = "{loc}",
       .status = 404,
       .code = "BLOB_UPLOAD_UNKNOWN"},
      {.name = "chunk to a cancelled upload",
       .method = "PATCH",
       .path = "{loc}",
       .headers = oct,
       .body = "x",
       .status = 404,
       .code = "BLOB_UPLOAD_UNKNOWN"},
      // The image's blobs, each in one PUT.
      {.name = "start the config upload", .method = "POST", .path = uploads, .status = 202},
      {.name = "config in one PUT",
       .method = "PUT",
       .path = "{loc}",
       .query = "digest=" + Sha(kConfig),
       .headers = oct,
       .body = kConfig,
       .status = 201},
      {.name = "manifest with a missing layer",
       .method = "PUT",
       .path = manifests + "v1",
       .headers = put_manifest,
       .body = kMissingLayer,
       .status = 400,
       .code = "MANIFEST_BLOB_UNKNOWN"},
      {.name = "start the layer upload", .method = "POST", .path = uploads, .status = 202},
      {.name = "layer in one PUT",
       .method = "PUT",
       .path = "{loc}",
       .query = "digest=" + Sha(kLayer),
       .headers = oct,
       .body = kLayer,
       .status = 201},
      {.name = "manifest that is not JSON",
       .method = "PUT",
       .path = manifests + "v1",
       .headers = put_manifest,
       .body = "not json",
       .status = 400,
       .code = "MANIFEST_INVALID"},
      {.name = "manifest with a foreign Content-Type",
       .method = "PUT",
       .path = manifests + "v1",
       .headers = {{"Content-Type", "text/plain"}},
       .body = kManifest,
       .status = 400,
       .code = "MANIFEST_INVALID"},
      {.name = "manifest under another digest",
       .method = "PUT",
       .path = manifests + kZero,
       .headers = put_manifest,
       .body = kManifest,
       .status = 400,
       .code = "DIGEST_INVALID"},
      {.name = "schema version 1",
       .method = "PUT",
       .path = manifests + "v1",
       .headers = put_manifest,
       .body = R"({"schemaVersion":1})",
       .status = 500,
       .code = "UNKNOWN",
       .differs = "docker-registry 2.8 fails on it (500); berthd says the manifest is invalid",
       .berthd_status = 400,
       .berthd_code = "MANIFEST_INVALID"},
      {.name = "manifest",
       .method = "PUT",
       .path = manifests + "v1",
       .headers = put_manifest,
       .body = kManifest,
       .status = 201},
      {.name = "manifest by tag",
       .method = "GET",
       .path = manifests + "v1",
       .headers = accept,
       .status = 200},
      {.name = "manifest by digest",
       .method = "GET",
       .path = manifests + Sha(kManifest),
       .headers = accept,
       .status = 200},
      {.name = "manifest HEAD",
       .method = "HEAD",
       .path = manifests + Sha(kManifest),
       .headers = accept,
       .status = 200},
      {.name = "tags", .method = "GET", .path = "/v2/{repo}/tags/list", .status = 200},
      {.name = "tags, first page",
       .method = "GET",
       .path = "/v2/{repo}/tags/list",
       .query = "n=1",
       .status = 200},
      {.name = "index with an unknown child",
       .method = "PUT",
       .path = manifests + "multi",
       .headers = put_index,
       .body = Index(kZero),
       .status = 400,
       .code = "MANIFEST_BLOB_UNKNOWN"},
      {.name = "index",
       .method = "PUT",
       .path = manifests + "multi",
       .headers = put_index,
       .body = Index(Sha(kManifest)),
       .status = 201},
      // Cross-repository mount.
      {.name = "mount a known blob",
       .method = "POST",
       .path = "/v2/{mirror}/blobs/uploads/",
       .query = "mount=" + Sha(kLayer) + "&from={repo}",
       .status = 201},
      {.name = "mount an unknown blob: a session instead",
       .method = "POST",
       .path = "/v2/{mirror}/blobs/uploads/",
       .query = "mount=" + kZero + "&from={repo}",
       .status = 202},
      {.name = "the mounted blob",
       .method = "GET",
       .path = "/v2/{mirror}/blobs/" + Sha(kLayer),
       .status = 200},
      {.name = "blob not in the mirror",
       .method = "GET",
       .path = "/v2/{mirror}/blobs/" + Sha(kHello),
       .status = 404,
       .code = "BLOB_UNKNOWN"},
      {.name = "delete the mounted blob",
       .method = "DELETE",
       .path = "/v2/{mirror}/blobs/" + Sha(kLayer),
       .status = 202},
      {.name = "delete it again",
       .method = "DELETE",
       .path = "/v2/{mirror}/blobs/" + Sha(kLayer),
       .status = 404,
       .code = "BLOB_UNKNOWN"},
      {.name = "still in the first repository",
       .method = "GET",
       .path = blob + Sha(kLayer),
       .status = 200},
      // Deletes.
      {.name = "delete by tag",
       .method = "DELETE",
       .path = manifests + "multi",
       .status = 400,
       .code = "DIGEST_INVALID",
       .differs = "docker-registry 2.8 cannot delete tags; berthd deletes the tag",
       .berthd_status = 202},
      {.name = "delete an unknown manifest",
       .method = "DELETE",
       .path = manifests + kZero,
       .status = 404,
       .code = "MANIFEST_UNKNOWN"},
      {.name = "delete the manifest",
       .method = "DELETE",
       .path = manifests + Sha(kManifest),
       .status = 202},
      {.name = "delete it again",
       .method = "DELETE",
       .path = manifests + Sha(kManifest),
       .status = 404,
       .code = "MANIFEST_UNKNOWN"},
      {.name = "its tag went with it",
       .method = "GET",
       .path = manifests + "v1",
       .headers = accept,
       .status = 404,
       .code = "MANIFEST_UNKNOWN"},
      {.name = "catalog", .method = "GET", .path = "/v2/_catalog", .status = 200},
      // Where berthd goes further than docker-registry 2.8.
      {.name = "monolithic POST",
       .method = "POST",
       .path = uploads,
       .query = "digest=" + Sha("monolithic"),
       .headers = oct,
       .body = "monolithic",
       .status = 202,
       .differs = "docker-registry 2.8 ignores ?digest= on POST and opens a session (the spec "
                  "allows both); berthd stores the blob at once",
       .berthd_status = 201},
      {.name = "start an upload (6)", .method = "POST", .path = uploads, .status = 202},
      {.name = "chunk that does not start at the end",
       .method = "PATCH",
       .path = "{loc}",
       .headers = {{"Content-Type", "application/octet-stream"}, {"Content-Range", "5-9"}},
       .body = "world",
       .status = 202,
       .differs = "docker-registry 2.8 does not check Content-Range; berthd refuses the gap",
       .berthd_status = 416,
       .berthd_code = "RANGE_INVALID"},
      {.name = "referrers",
       .method = "GET",
       .path = "/v2/{repo}/referrers/" + Sha(kManifest),
       .status = 404,
       .differs = "docker-registry 2.8 has no referrers API (plain 404)",
       .berthd_status = 200},
      {.name = "invalid repository name",
       .method = "GET",
       .path = "/v2/Not-Lower/tags/list",
       .status = 404,
       .differs = "docker-registry's router answers a plain 404; berthd says NAME_INVALID",
       .berthd_status = 400,
       .berthd_code = "NAME_INVALID"},
      {.name = "PUT to a blob",
       .method = "PUT",
       .path = blob + Sha(kHello),
       .status = 405,
       .differs = "docker-registry answers a plain 405; berthd adds UNSUPPORTED",
       .berthd_status = 405,
       .berthd_code = "UNSUPPORTED"},
  };
}

struct Answer {
  long status = 0;
  std::string code;
};

// Plays the table against the registry at `base` ("http://host:port"), as `repo` and `mirror`.
std::vector<Answer> Play(const std::string& base, const std::string& repo,
                         const std::string& mirror, const std::string& auth) {
  registry::HttpClient http;
  std::vector<Answer> answers;
  std::string loc;
  auto fill = [&](std::string text) {
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"{repo}", repo},
                                     {"{mirror}", mirror},
                                     {"{loc}", loc}}) {
      for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
        text.replace(at, key.size(), value);
        at += value.size();
      }
    }
    return text;
  };
  for (const Row& row : Table()) {
    std::string path = fill(row.path);
    if (!row.query.empty()) {
      path += (path.find('?') == std::string::npos ? "?" : "&") + fill(row.query);
    }
    registry::HttpRequest req;
    req.method = row.method;
    req.url = path.starts_with("http") ? path : base + path;
    req.headers = row.headers;
    if (!auth.empty()) {
      req.headers.emplace_back("Authorization", auth);
    }
    req.body = row.body;
    Result<registry::HttpResponse> r = http.Do(Context::Background(), req);
    Answer a;
    if (r.ok()) {
      a.status = r->status;
      json j = json::parse(r->body, nullptr, false);
      if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
          j["errors"][0].is_object()) {
        a.code = j["errors"][0].value("code", "");
      }
      std::string location = r->headers.Get("Location");
      if (location.find("/blobs/uploads/") != std::string::npos) {
        loc = location;
      }
    } else {
      a.code = "request failed: " + r.error().ToString();
    }
    answers.push_back(a);
  }
  return answers;
}

TEST(RegistryConformanceTest, SameAnswersAsDockerRegistry) {
  if (!registry::test::DockerRegistry::Available()) {
    GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it)";
  }
  char tmpl[] = "/tmp/berth-registry-conformance-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::vector<Answer> theirs;
  std::vector<Answer> ours;
  {
    Berthd berthd(dir + "/root", dir + "/berthd.log");
    ASSERT_FALSE(berthd.url().empty()) << berthd.log();
    std::string project = berthd.CreateProject("conformance");
    std::string token = berthd.CreateProjectToken(project);
    ASSERT_FALSE(token.empty());
    std::string auth = "Basic " + registry::Base64Encode("x-token:" + token);
    std::filesystem::create_directories(dir + "/docker-registry");
    Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
        registry::test::DockerRegistry::Start(dir + "/docker-registry");
    ASSERT_TRUE(reg.ok()) << reg.error().ToString();
    // The same repository names on both: berthd's project id is a valid name anywhere.
    theirs = Play("http://" + (*reg)->host(), project, project + "/mirror", "");
    ours = Play(berthd.url(), project, project + "/mirror", auth);
  }
  std::vector<Row> table = Table();
  ASSERT_EQ(theirs.size(), table.size());
  ASSERT_EQ(ours.size(), table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const Row& row = table[i];
    std::string what = "row " + std::to_string(i) + " \"" + row.name + "\": " + row.method + " " +
                       row.path + (row.query.empty() ? "" : "?" + row.query);
    EXPECT_EQ(theirs[i].status, row.status) << "docker-registry, " << what;
    EXPECT_EQ(theirs[i].code, row.code) << "docker-registry, " << what;
    int want_status = row.differs.empty() ? row.status : row.berthd_status;
    std::string want_code = row.differs.empty() ? row.code : row.berthd_code;
    EXPECT_EQ(ours[i].status, want_status) << "berthd, " << what << row.differs;
    EXPECT_EQ(ours[i].code, want_code) << "berthd, " << what << row.differs;
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace berth::e2e
