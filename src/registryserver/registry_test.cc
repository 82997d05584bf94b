// The registry's handlers over the real HTTP server on loopback, with real stores (SQLite
// metastore, local content store) and the real HTTP client.
#include "registryserver/registry.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "content/local_store.h"
#include "digest/digest.h"
#include "registry/auth.h"
#include "registry/http.h"
#include "registryserver/saved.h"

namespace berth::registryserver {
namespace {

using json = nlohmann::json;
using registry::HttpRequest;
using registry::HttpResponse;

std::string Sha(std::string_view data) {
  return digest::FromBytes(data).ToString();
}

std::string ErrorCodeOf(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) {
    return "";
  }
  return j["errors"][0].value("code", "");
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/registryserver-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    meta_ = metastore::Open("sqlite://" + dir_ + "/meta.db").value();
    content_ = content::LocalStore::Open(dir_ + "/content").value();
    metastore::Organization org = meta_->CreateOrganization(ctx_, "acme").value();
    metastore::Organization other_org = meta_->CreateOrganization(ctx_, "other").value();
    project_ = meta_->CreateProject(ctx_, {.org_id = org.id, .name = "web"}).value().id;
    other_ = meta_->CreateProject(ctx_, {.org_id = other_org.id, .name = "api"}).value().id;
    token_ = meta_->CreateToken(ctx_, {.kind = metastore::TokenKind::kProject, .subject = project_})
                 .value()
                 .secret;
    other_token_ =
        meta_->CreateToken(ctx_, {.kind = metastore::TokenKind::kProject, .subject = other_})
            .value()
            .secret;
    StartServer({});
  }

  void StartServer(Registry::Options options) {
    if (server_) {
      server_->Stop();
    }
    options.root = dir_ + "/root";
    registry_ = Registry::Create(*meta_, *content_, options).value();
    server_ = httpserver::Server::Create({}).value();
    registry_->Register(*server_);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
    }
    std::filesystem::remove_all(dir_);
  }

  static std::string Basic(const std::string& secret) {
    return "Basic " + registry::Base64Encode("x-token:" + secret);
  }

  HttpResponse Do(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> headers = {},
                  std::string body = "", const std::string& auth = "default") {
    HttpRequest req;
    req.method = method;
    req.url = path.starts_with("http") ? path : base_ + path;
    req.headers = std::move(headers);
    if (auth == "default") {
      req.headers.emplace_back("Authorization", Basic(token_));
    } else if (!auth.empty()) {
      req.headers.emplace_back("Authorization", auth);
    }
    req.body = std::move(body);
    Result<HttpResponse> r = http_.Do(ctx_, req);
    EXPECT_TRUE(r.ok()) << method << " " << path << ": " << r.error().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  // Pushes `data` as a blob into `repo` (monolithic POST), expecting 201.
  void PushBlob(const std::string& repo, const std::string& data) {
    HttpResponse r = Do("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + Sha(data), {}, data);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  std::string ImageManifest(const std::string& config, const std::string& layer,
                            const std::string& extra = "") {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
           R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           Sha(config) + R"(","size":)" + std::to_string(config.size()) +
           R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
           Sha(layer) + R"(","size":)" + std::to_string(layer.size()) + "}]" + extra + "}";
  }

  HttpResponse PutManifest(const std::string& repo, const std::string& ref,
                           const std::string& manifest,
                           const std::string& type = "application/vnd.oci.image.manifest.v1+json",
                           const std::string& auth = "default") {
    return Do("PUT", "/v2/" + repo + "/manifests/" + ref, {{"Content-Type", type}}, manifest, auth);
  }

  Context ctx_ = Context::Background();
  std::string dir_;
  std::unique_ptr<metastore::Store> meta_;
  std::unique_ptr<content::LocalStore> content_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<httpserver::Server> server_;
  registry::HttpClient http_;
  std::string base_;
  std::string project_;
  std::string other_;
  std::string token_;
  std::string other_token_;
};

TEST_F(RegistryTest, BaseAsksForCredentialsWithABearerChallenge) {
  HttpResponse r = Do("GET", "/v2/", {}, "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCodeOf(r), "UNAUTHORIZED");
  EXPECT_EQ(r.headers.Get("WWW-Authenticate"),
            "Bearer realm=\"" + base_ + "/v2/token\",service=\"berthd\"");
  EXPECT_EQ(r.headers.Get("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_EQ(Do("GET", "/v2/").status, 200);
  EXPECT_EQ(Do("GET", "/v2/", {}, "", Basic("berth_wrong")).status, 401);
  // A repository request without credentials names the scope it needs.
  r = Do("GET", "/v2/" + project_ + "/tags/list", {}, "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.Get("WWW-Authenticate").find("scope=\"repository:" + project_ + ":pull\""),
            std::string::npos);
}

TEST_F(RegistryTest, TokenFlowScopesPullAndPushPerProject) {
  std::string blob = "some layer";
  PushBlob(project_, blob);
  // No credentials at the token endpoint: 401.
  EXPECT_EQ(Do("GET", "/v2/token?service=berthd", {}, "", "").status, 401);
  auto token_for = [&](const std::string& scope, const std::string& secret) {
    HttpResponse r = Do("GET", "/v2/token?service=berthd&scope=" + registry::QueryEscape(scope), {},
                        "", Basic(secret));
    EXPECT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j["token"].is_string()) << r.body;
    EXPECT_EQ(j.value("token", ""), j.value("access_token", "x"));
    return "Bearer " + j.value("token", "");
  };
  std::string pull = token_for("repository:" + project_ + ":pull", token_);
  std::string blob_path = "/v2/" + project_ + "/blobs/" + Sha(blob);
  EXPECT_EQ(Do("GET", "/v2/", {}, "", pull).status, 200);
  HttpResponse r = Do("GET", blob_path, {}, "", pull);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, blob);
  // Pull only: a push is denied.
  r = Do("POST", "/v2/" + project_ + "/blobs/uploads/", {}, "", pull);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCodeOf(r), "DENIED");
  std::string push = token_for("repository:" + project_ + "/sub:pull,push", token_);
  EXPECT_EQ(Do("POST", "/v2/" + project_ + "/blobs/uploads/", {}, "", push).status, 202);
  // A token of another project is granted nothing here.
  std::string foreign = token_for("repository:" + project_ + ":pull", other_token_);
  r = Do("GET", blob_path, {}, "", foreign);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.Get("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  // A forged token (the push token's header and payload, another signature) fails.
  std::string forged = push.substr(0, push.rfind('.') + 1) + "AAAA";
  EXPECT_EQ(Do("GET", blob_path, {}, "", forged).status, 401);
  // Revoking the berthd token ends the registry tokens made from it.
  metastore::Token t = meta_->Authenticate(ctx_, token_).value();
  ASSERT_TRUE(meta_->RevokeToken(ctx_, t.id).ok());
  EXPECT_EQ(Do("GET", blob_path, {}, "", pull).status, 401);
}

TEST_F(RegistryTest, APullTokenWorksAsAPasswordAndNeverGrowsIntoPush) {
  std::string blob = "pulled with a pull token";
  PushBlob(project_, blob);
  HttpResponse r = Do(
      "GET",
      "/v2/token?service=berthd&scope=" + registry::QueryEscape("repository:" + project_ + ":pull"),
      {}, "", Basic(token_));
  ASSERT_EQ(r.status, 200);
  std::string pull = json::parse(r.body)["token"].get<std::string>();
  std::string blob_path = "/v2/" + project_ + "/blobs/" + Sha(blob);
  // As a password, directly.
  EXPECT_EQ(Do("GET", "/v2/", {}, "", Basic(pull)).status, 200);
  EXPECT_EQ(Do("GET", blob_path, {}, "", Basic(pull)).body, blob);
  EXPECT_EQ(ErrorCodeOf(Do("POST", "/v2/" + project_ + "/blobs/uploads/", {}, "", Basic(pull))),
            "DENIED");
  // As a password at the token endpoint (docker login's way): asking for push gets pull only.
  r = Do("GET",
         "/v2/token?service=berthd&scope=" +
             registry::QueryEscape("repository:" + project_ + ":pull,push"),
         {}, "", Basic(pull));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_LE(j["expires_in"].get<int>(), 300);
  std::string derived = "Bearer " + j["token"].get<std::string>();
  EXPECT_EQ(Do("GET", blob_path, {}, "", derived).status, 200);
  EXPECT_EQ(Do("POST", "/v2/" + project_ + "/blobs/uploads/", {}, "", derived).status, 403);
  // Nor into another project.
  r = Do(
      "GET",
      "/v2/token?service=berthd&scope=" + registry::QueryEscape("repository:" + other_ + ":pull"),
      {}, "", Basic(pull));
  std::string elsewhere = "Bearer " + json::parse(r.body)["token"].get<std::string>();
  EXPECT_EQ(Do("GET", "/v2/" + other_ + "/tags/list", {}, "", elsewhere).status, 401);
  // Several scopes in one request, repeated or space-separated, each granted.
  r = Do("GET",
         "/v2/token?service=berthd&scope=" +
             registry::QueryEscape("repository:" + project_ + "/a:pull") +
             "&scope=" + registry::QueryEscape("repository:" + project_ + "/b:pull,push"),
         {}, "", Basic(token_));
  std::string both = "Bearer " + json::parse(r.body)["token"].get<std::string>();
  EXPECT_EQ(Do("POST", "/v2/" + project_ + "/b/blobs/uploads/", {}, "", both).status, 202);
  // A forged one is no credential at all.
  std::string forged = pull.substr(0, pull.rfind('.') + 1) + "AAAA";
  EXPECT_EQ(Do("GET", "/v2/token?service=berthd", {}, "", Basic(forged)).status, 401);
  EXPECT_EQ(Do("GET", blob_path, {}, "", Basic(forged)).status, 401);
}

TEST_F(RegistryTest, AnImportedSecretWithDotsIsStillABerthdToken) {
  std::string secret = "imported.secret.with-dots-0123456789";
  ASSERT_TRUE(
      meta_
          ->CreateToken(
              ctx_, {.kind = metastore::TokenKind::kProject, .subject = project_, .secret = secret})
          .ok());
  PushBlob(project_, "x");
  EXPECT_EQ(Do("GET", "/v2/", {}, "", Basic(secret)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/" + Sha("x"), {}, "", Basic(secret)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/token?service=berthd", {}, "", Basic(secret)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/", {}, "", Basic("not.a.token")).status, 401);
}

TEST_F(RegistryTest, CatalogListsTheRepositoriesTheCallerMayPull) {
  PushBlob(project_, "a");
  PushBlob(project_ + "/web", "b");
  PushBlob(project_ + "/api", "c");
  ASSERT_EQ(Do("POST", "/v2/" + other_ + "/secret/blobs/uploads/?digest=" + Sha("d"), {}, "d",
               Basic(other_token_))
                .status,
            201);
  auto catalog = [&](const std::string& auth, const std::string& query = "") {
    HttpResponse r = Do("GET", "/v2/_catalog" + query, {}, "", auth);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> names;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j["repositories"].is_array()) {
      for (const json& n : j["repositories"]) {
        names.push_back(n.get<std::string>());
      }
    }
    return std::make_pair(names, r.headers.Get("Link"));
  };
  std::vector<std::string> mine = {project_, project_ + "/api", project_ + "/web"};
  EXPECT_EQ(catalog(Basic(token_)).first, mine);
  EXPECT_EQ(catalog(Basic(other_token_)).first, std::vector<std::string>{other_ + "/secret"});
  // An organization token sees its organization's projects.
  metastore::Token mine_token = meta_->Authenticate(ctx_, token_).value();
  std::string org_secret = meta_
                               ->CreateToken(ctx_, {.kind = metastore::TokenKind::kOrganization,
                                                    .subject = mine_token.org_id})
                               .value()
                               .secret;
  EXPECT_EQ(catalog(Basic(org_secret)).first, mine);
  // Pages of two, following the Link.
  auto [page, link] = catalog(Basic(token_), "?n=2");
  EXPECT_EQ(page, (std::vector<std::string>{project_, project_ + "/api"}));
  ASSERT_EQ(link, "</v2/_catalog?n=2&last=" + project_ + "/api>; rel=\"next\"");
  auto [rest, end] = catalog(Basic(token_), "?n=2&last=" + project_ + "/api");
  EXPECT_EQ(rest, std::vector<std::string>{project_ + "/web"});
  EXPECT_EQ(end, "");
  // A registry token lists the projects it may pull from.
  HttpResponse r = Do(
      "GET",
      "/v2/token?service=berthd&scope=" + registry::QueryEscape("repository:" + project_ + ":pull"),
      {}, "", Basic(token_));
  std::string pull = "Bearer " + json::parse(r.body)["token"].get<std::string>();
  EXPECT_EQ(catalog(pull).first, mine);
  r = Do("GET", "/v2/_catalog", {}, "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Do("GET", "/v2/_catalog?n=-1").status, 400);
}

TEST_F(RegistryTest, AnotherProjectsRepositoryIsNotFound) {
  PushBlob(project_, "mine");
  HttpResponse r =
      Do("GET", "/v2/" + project_ + "/blobs/" + Sha("mine"), {}, "", Basic(other_token_));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCodeOf(r), "NAME_UNKNOWN");
  r = Do("GET", "/v2/p_doesnotexist/tags/list");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCodeOf(r), "NAME_UNKNOWN");
  // Names outside the grammar never reach a store.
  for (const char* bad :
       {"/v2/../etc/tags/list", "/v2/a/..%2f../tags/list", "/v2/UPPER/tags/list"}) {
    r = Do("GET", bad);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << bad << " " << r.status;
  }
}

TEST_F(RegistryTest, ChunkedUploadThenRangedPull) {
  std::string repo = project_ + "/app";
  HttpResponse r = Do("POST", "/v2/" + repo + "/blobs/uploads/");
  ASSERT_EQ(r.status, 202);
  std::string location = r.headers.Get("Location");
  ASSERT_TRUE(location.starts_with("/v2/" + repo + "/blobs/uploads/")) << location;
  EXPECT_EQ(r.headers.Get("Range"), "0-0");
  r = Do("PATCH", location,
         {{"Content-Range", "0-4"}, {"Content-Type", "application/octet-stream"}}, "hello");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.headers.Get("Range"), "0-4");
  location = r.headers.Get("Location");
  // The same chunk again does not start where the upload ends.
  r = Do("PATCH", location, {{"Content-Range", "0-4"}}, "hello");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(ErrorCodeOf(r), "RANGE_INVALID");
  // A Content-Range that disagrees with the body.
  r = Do("PATCH", location, {{"Content-Range", "5-9"}}, "toolongbody");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "SIZE_INVALID");
  // ... refused before it was written: the upload still ends after "hello".
  r = Do("GET", location);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers.Get("Range"), "0-4");
  // Restart cleanly: a fresh session, two chunks, the last one with the PUT.
  r = Do("POST", "/v2/" + repo + "/blobs/uploads/");
  location = r.headers.Get("Location");
  r = Do("PATCH", location, {{"Content-Range", "0-4"}}, "hello");
  ASSERT_EQ(r.status, 202);
  std::string data = "helloworld";
  r = Do("PUT", location + "?digest=" + Sha(data), {{"Content-Range", "5-9"}}, "world");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.Get("Location"), "/v2/" + repo + "/blobs/" + Sha(data));
  EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), Sha(data));
  // The session is gone.
  EXPECT_EQ(ErrorCodeOf(Do("GET", location)), "BLOB_UPLOAD_UNKNOWN");

  std::string blob = "/v2/" + repo + "/blobs/" + Sha(data);
  r = Do("GET", blob);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, data);
  EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), Sha(data));
  r = Do("HEAD", blob);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Length"), "10");
  EXPECT_EQ(r.body, "");
  r = Do("GET", blob, {{"Range", "bytes=2-4"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "llo");
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes 2-4/10");
  r = Do("GET", blob, {{"Range", "bytes=-3"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "rld");
  r = Do("GET", blob, {{"Range", "bytes=20-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes */10");
  // Not linked into the project's other repositories.
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(data))), "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, WrongDigestStoresNothing) {
  HttpResponse r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  std::string location = r.headers.Get("Location");
  r = Do("PUT", location + "?digest=" + Sha("other"), {}, "content");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "DIGEST_INVALID");
  EXPECT_FALSE(content_->Exists(ctx_, digest::FromBytes("content")).value());
  EXPECT_EQ(ErrorCodeOf(Do("GET", location)), "BLOB_UPLOAD_UNKNOWN");
  // Bad digests everywhere.
  r = Do("POST", "/v2/" + project_ + "/blobs/uploads/?digest=sha256:zz", {}, "x");
  EXPECT_EQ(ErrorCodeOf(r), "DIGEST_INVALID");
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/blobs/md5:00")), "DIGEST_INVALID");
  r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  r = Do("PUT", r.headers.Get("Location"), {}, "x");
  EXPECT_EQ(ErrorCodeOf(r), "DIGEST_INVALID");
}

TEST_F(RegistryTest, MountsFromRepositoriesTheCallerMayRead) {
  std::string data = "shared layer";
  PushBlob(project_ + "/a", data);
  HttpResponse r = Do("POST", "/v2/" + project_ + "/b/blobs/uploads/?mount=" + Sha(data) +
                                  "&from=" + project_ + "/a");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/b/blobs/" + Sha(data)).body, data);
  // From another tenant's project: a plain upload session instead.
  r = Do("POST",
         "/v2/" + other_ + "/blobs/uploads/?mount=" + Sha(data) + "&from=" + project_ + "/a", {},
         "", Basic(other_token_));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(
      ErrorCodeOf(Do("GET", "/v2/" + other_ + "/blobs/" + Sha(data), {}, "", Basic(other_token_))),
      "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, ManifestsAreValidatedStoredTaggedAndDeleted) {
  std::string repo = project_;
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "layer bytes";
  std::string manifest = ImageManifest(config, layer);
  HttpResponse r = PutManifest(repo, "v1", manifest);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "MANIFEST_BLOB_UNKNOWN");
  PushBlob(repo, config);
  PushBlob(repo, layer);
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, "v1", "not json")), "MANIFEST_INVALID");
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, "v1", manifest, "text/plain")), "MANIFEST_INVALID");
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, "v1", R"({"schemaVersion":1})")), "MANIFEST_INVALID");
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, Sha("x"), manifest)), "DIGEST_INVALID");
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, "bad!tag", manifest)), "TAG_INVALID");
  // A descriptor whose size is not the blob's.
  std::string wrong_size = manifest;
  wrong_size.replace(wrong_size.rfind(std::to_string(layer.size())), 2, "99");
  EXPECT_EQ(ErrorCodeOf(PutManifest(repo, "v1", wrong_size)), "MANIFEST_INVALID");

  r = PutManifest(repo, "v1", manifest);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string digest = Sha(manifest);
  EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), digest);
  EXPECT_EQ(r.headers.Get("Location"), "/v2/" + repo + "/manifests/" + digest);
  for (const std::string& ref : {std::string("v1"), digest}) {
    r = Do("GET", "/v2/" + repo + "/manifests/" + ref);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, manifest);
    EXPECT_EQ(r.headers.Get("Content-Type"), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), digest);
    r = Do("HEAD", "/v2/" + repo + "/manifests/" + ref);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.Get("Content-Length"), std::to_string(manifest.size()));
  }
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + repo + "/manifests/v2")), "MANIFEST_UNKNOWN");

  // An index: its children must be manifests of the repository.
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      digest + R"(","size":)" + std::to_string(manifest.size()) + "}]}";
  std::string bad_index = index;
  bad_index.replace(bad_index.find(digest), digest.size(), Sha("nothing"));
  r = PutManifest(repo, "multi", bad_index, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(ErrorCodeOf(r), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(PutManifest(repo, "multi", index, "application/vnd.oci.image.index.v1+json").status,
            201);

  // Tags in pages of one, with Link headers.
  for (const char* tag : {"a", "b"}) {
    ASSERT_EQ(PutManifest(repo, tag, manifest).status, 201);
  }
  std::vector<std::string> seen;
  std::string next = "/v2/" + repo + "/tags/list?n=2";
  for (int pages = 0; !next.empty() && pages < 10; ++pages) {
    r = Do("GET", next);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    EXPECT_EQ(j["name"], repo);
    for (const json& t : j["tags"]) {
      seen.push_back(t.get<std::string>());
    }
    std::string link = r.headers.Get("Link");
    next = link.empty() ? "" : link.substr(1, link.find('>') - 1);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "multi", "v1"}));
  r = Do("GET", "/v2/" + repo + "/tags/list?n=x");
  EXPECT_EQ(r.status, 400);

  // Delete a tag, then the manifest (and its remaining tags).
  EXPECT_EQ(Do("DELETE", "/v2/" + repo + "/manifests/a").status, 202);
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + repo + "/manifests/a")), "MANIFEST_UNKNOWN");
  EXPECT_EQ(Do("DELETE", "/v2/" + repo + "/manifests/" + digest).status, 202);
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + repo + "/manifests/v1")), "MANIFEST_UNKNOWN");
  EXPECT_EQ(ErrorCodeOf(Do("DELETE", "/v2/" + repo + "/manifests/" + digest)), "MANIFEST_UNKNOWN");
  // Blob delete unlinks from the repository.
  EXPECT_EQ(Do("DELETE", "/v2/" + repo + "/blobs/" + Sha(layer)).status, 202);
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + repo + "/blobs/" + Sha(layer))), "BLOB_UNKNOWN");
  EXPECT_EQ(ErrorCodeOf(Do("DELETE", "/v2/" + repo + "/blobs/" + Sha(layer))), "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, ReferrersListsArtifactsWithFilter) {
  std::string repo = project_;
  std::string config = "{}";
  std::string layer = "image layer";
  PushBlob(repo, config);
  PushBlob(repo, layer);
  std::string image = ImageManifest(config, layer);
  ASSERT_EQ(PutManifest(repo, "v1", image).status, 201);
  std::string subject = R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                        R"("digest":")" +
                        Sha(image) + R"(","size":)" + std::to_string(image.size()) + "}";
  std::string sig = ImageManifest(config, layer,
                                  subject + R"(,"artifactType":"application/vnd.example.sig",)"
                                            R"("annotations":{"who":"ci"})");
  std::string sbom =
      ImageManifest(config, layer, subject + R"(,"artifactType":"application/spdx+json")");
  HttpResponse r = PutManifest(repo, Sha(sig), sig);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.Get("OCI-Subject"), Sha(image));
  ASSERT_EQ(PutManifest(repo, Sha(sbom), sbom).status, 201);

  r = Do("GET", "/v2/" + repo + "/referrers/" + Sha(image));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/vnd.oci.image.index.v1+json");
  json j = json::parse(r.body);
  ASSERT_EQ(j["manifests"].size(), 2u);
  EXPECT_EQ(j["manifests"][0]["digest"], Sha(sig));
  EXPECT_EQ(j["manifests"][0]["artifactType"], "application/vnd.example.sig");
  EXPECT_EQ(j["manifests"][0]["annotations"]["who"], "ci");
  EXPECT_EQ(j["manifests"][1]["size"], sbom.size());
  r = Do("GET",
         "/v2/" + repo + "/referrers/" + Sha(image) + "?artifactType=application/spdx%2Bjson");
  j = json::parse(r.body);
  ASSERT_EQ(j["manifests"].size(), 1u);
  EXPECT_EQ(j["manifests"][0]["digest"], Sha(sbom));
  EXPECT_EQ(r.headers.Get("OCI-Filters-Applied"), "artifactType");
  r = Do("GET", "/v2/" + repo + "/referrers/" + Sha("none"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body)["manifests"].empty());
}

TEST_F(RegistryTest, ConcurrentPushesOfOneBlobBothSucceed) {
  std::string data(1 << 20, 'z');
  constexpr int kPushers = 4;
  std::vector<long> statuses(kPushers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPushers; ++i) {
    threads.emplace_back([&, i] {
      registry::HttpClient http;
      HttpRequest post;
      post.method = "POST";
      post.url = base_ + "/v2/" + project_ + "/blobs/uploads/";
      post.headers = {{"Authorization", Basic(token_)}};
      Result<HttpResponse> started = http.Do(ctx_, post);
      if (!started.ok()) {
        return;
      }
      HttpRequest put;
      put.method = "PUT";
      put.url = base_ + started->headers.Get("Location") + "?digest=" + Sha(data);
      put.headers = post.headers;
      put.body = data;
      Result<HttpResponse> done = http.Do(ctx_, put);
      statuses[i] = done.ok() ? done->status : -1;
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int i = 0; i < kPushers; ++i) {
    EXPECT_EQ(statuses[i], 201) << "pusher " << i;
  }
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(data)).body, data);
}

TEST_F(RegistryTest, AbandonedUploadsAreInvisibleAndCleanedUp) {
  HttpResponse r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  std::string location = r.headers.Get("Location");
  std::string data = "half of a blob";
  ASSERT_EQ(Do("PATCH", location, {}, data).status, 202);
  // What was sent is in no blob and in no listing.
  EXPECT_FALSE(content_->Exists(ctx_, digest::FromBytes(data)).value());
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(data))), "BLOB_UNKNOWN");
  // A young session survives a clean-up; with a zero age limit it goes.
  EXPECT_EQ(registry_->CleanUploads(ctx_).value(), 0u);
  EXPECT_EQ(Do("GET", location).status, 204);
  StartServer({.upload_max_age = std::chrono::seconds(0)});  // Create() cleans up.
  EXPECT_EQ(ErrorCodeOf(Do("GET", location)), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_TRUE(content_->ListIngests(ctx_).value().empty());
}

TEST_F(RegistryTest, HostileRequestsGetClearErrors) {
  // A manifest larger than the limit is refused before it is read whole.
  std::string huge = R"({"schemaVersion":2,"x":")" + std::string(5 << 20, 'a') + "\"}";
  HttpResponse r = PutManifest(project_, "big", huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCodeOf(r), "SIZE_INVALID");
  // Digests that are not ours, in every place a digest goes.
  for (const std::string& bad : {std::string("sha256:") + std::string(63, 'a'),
                                 std::string("sha256:") + std::string(64, 'A'),
                                 std::string("sha512:") + std::string(128, 'a')}) {
    EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/blobs/" + bad)), "DIGEST_INVALID") << bad;
    EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/manifests/" + bad)), "DIGEST_INVALID")
        << bad;
    EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/referrers/" + bad)), "DIGEST_INVALID")
        << bad;
  }
  // Encoded slashes decode into more path segments: no route, never a file.
  r = Do("GET", "/v2/" + project_ + "/blobs/sha256:..%2f..%2f..%2fetc%2fpasswd");
  EXPECT_EQ(r.status, 404);
  // Descriptors that are not descriptors.
  PushBlob(project_, "{}");
  for (const std::string& body :
       {std::string(
            R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})"),
        std::string(
            R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
            R"("config":{"mediaType":"x","digest":"sha256:zz","size":2}})"),
        std::string(
            R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
            R"("config":{"mediaType":"x","digest":")" +
            Sha("{}") + R"(","size":-2}})"),
        std::string(
            R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
            R"("config":{"mediaType":"x","digest":")" +
            Sha("{}") + R"(","size":2},"layers":{}})"),
        std::string(R"([1,2,3])"), std::string(R"({"schemaVersion":"2"})")}) {
    r = PutManifest(project_, "bad", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(ErrorCodeOf(r), "MANIFEST_INVALID") << body;
  }
  // Ranges that do not parse.
  PushBlob(project_, "0123456789");
  r = Do("GET", "/v2/" + project_ + "/blobs/" + Sha("0123456789"), {{"Range", "bytes=5-2"}});
  EXPECT_EQ(r.status, 416);
  // A chunk whose Content-Range does not parse.
  r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  r = Do("PATCH", r.headers.Get("Location"), {{"Content-Range", "0-"}}, "x");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(ErrorCodeOf(r), "RANGE_INVALID");
  // A Host header cannot break out of the challenge's quotes.
  r = Do("GET", "/v2/", {{"Host", "evil\",x=\"y"}}, "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.Get("WWW-Authenticate").find("x=\"y"), std::string::npos)
      << r.headers.Get("WWW-Authenticate");
}

// Sends `request` on a fresh connection, closes the sending side, and returns the answer.
std::string RawExchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return "connect failed";
  }
  // The server may stop reading and answer early: no SIGPIPE for what it leaves unread.
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

TEST_F(RegistryTest, ABodyShorterThanItsContentLengthKeepsWhatArrived) {
  HttpResponse r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  std::string location = r.headers.Get("Location");
  std::string answer =
      RawExchange(server_->port(), "PATCH " + location + " HTTP/1.1\r\nHost: x\r\n" +
                                       "Authorization: " + Basic(token_) +
                                       "\r\nContent-Length: 999999999999999\r\n\r\n0123456789");
  // The client hung up mid-body: whatever answer reaches it (httplib may send none) is no
  // success.
  EXPECT_FALSE(answer.starts_with("HTTP/1.1 2")) << answer;
  // What arrived stays in the session, to resume from; nothing became a blob.
  r = Do("GET", location);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers.Get("Range"), "0-9");
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/blobs/" + Sha("0123456789"))),
            "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, RealmFollowsTheConfiguredAddress) {
  StartServer({.external_url = "https://registry.example:8443/"});
  HttpResponse r = Do("GET", "/v2/", {}, "", "");
  EXPECT_EQ(r.headers.Get("WWW-Authenticate"),
            "Bearer realm=\"https://registry.example:8443/v2/token\",service=\"berthd\"");
  StartServer({.tls = true});
  r = Do("GET", "/v2/", {}, "", "");
  EXPECT_TRUE(r.headers.Get("WWW-Authenticate").starts_with("Bearer realm=\"https://127.0.0.1:"))
      << r.headers.Get("WWW-Authenticate");
}

TEST_F(RegistryTest, CancelledUploadIsGone) {
  HttpResponse r = Do("POST", "/v2/" + project_ + "/blobs/uploads/");
  std::string location = r.headers.Get("Location");
  EXPECT_EQ(Do("DELETE", location).status, 204);
  EXPECT_EQ(ErrorCodeOf(Do("DELETE", location)), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(ErrorCodeOf(Do("PATCH", location, {}, "x")), "BLOB_UPLOAD_UNKNOWN");
  // Upload ids are ours: anything else is unknown, never a path.
  for (const char* id : {"..", "0123", "../../../../etc/passwd"}) {
    EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/uploads/" + std::string(id)).status, 404) << id;
  }
  // A session belongs to its repository.
  r = Do("POST", "/v2/" + project_ + "/a/blobs/uploads/");
  std::string id = r.headers.Get("Docker-Upload-UUID");
  EXPECT_EQ(ErrorCodeOf(Do("GET", "/v2/" + project_ + "/b/blobs/uploads/" + id)),
            "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, SaveServesAnImageOfTheContentStoreUnderItsTags) {
  // What a build leaves in the content store: a layer, a config, a manifest, and an index over it.
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "saved layer bytes";
  std::string manifest = ImageManifest(config, layer);
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      Sha(manifest) + R"(","size":)" + std::to_string(manifest.size()) + "}]}";
  auto write = [&](const std::string& data) {
    StringReader src(data);
    ASSERT_TRUE(content::WriteBlob(ctx_, *content_, src, {.ref = "test-" + Sha(data)}).ok());
  };
  write(config);
  write(manifest);
  write(index);
  // The layer is missing: nothing to save.
  Result<> saved = registry_->Save(ctx_, project_, project_, Sha(index), {"b_one"});
  EXPECT_EQ(saved.error().code(), ErrorCode::kFailedPrecondition) << saved.error().ToString();
  write(layer);

  EXPECT_EQ(registry_->Save(ctx_, project_, project_, Sha(index), {"bad!tag"}).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(registry_->Save(ctx_, project_, other_, Sha(index), {"b_one"}).error().code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(registry_->Save(ctx_, project_, project_, Sha(index), {"b_one", "latest"}).ok());
  // Again: idempotent.
  ASSERT_TRUE(registry_->Save(ctx_, project_, project_, Sha(index), {"b_one"}).ok());

  for (const std::string& tag : {std::string("b_one"), std::string("latest")}) {
    HttpResponse r = Do("GET", "/v2/" + project_ + "/manifests/" + tag);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, index);
    EXPECT_EQ(r.headers.Get("Content-Type"), "application/vnd.oci.image.index.v1+json");
  }
  HttpResponse r = Do("GET", "/v2/" + project_ + "/manifests/" + Sha(manifest));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, manifest);
  r = Do("GET", "/v2/" + project_ + "/blobs/" + Sha(layer));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, layer);
  // Not readable by another tenant.
  r = Do("GET", "/v2/" + project_ + "/manifests/b_one", {}, "", Basic(other_token_));
  EXPECT_EQ(r.status, 404);
  // Everything is kept by the registry's lease.
  std::vector<digest::Digest> leased =
      content_->leases().ListResources(ctx_, "berthd-registry").value();
  for (const std::string& data : {config, layer, manifest, index}) {
    EXPECT_TRUE(std::find(leased.begin(), leased.end(), digest::FromBytes(data)) != leased.end());
  }
}

TEST_F(RegistryTest, ExpiryKeepsWhatALiveImageUsesAndReleasesTheRest) {
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "kept layer";
  std::string old_layer = "old layer";
  std::string manifest = ImageManifest(config, layer);
  std::string old_manifest = ImageManifest(config, old_layer);
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      Sha(manifest) + R"(","size":)" + std::to_string(manifest.size()) + "}]}";
  for (const std::string& data : {config, layer, old_layer, manifest, old_manifest, index}) {
    StringReader src(data);
    ASSERT_TRUE(content::WriteBlob(ctx_, *content_, src, {.ref = "test-" + Sha(data)}).ok());
  }
  ASSERT_TRUE(registry_->Save(ctx_, project_, project_, Sha(index), {"keep"}).ok());
  ASSERT_TRUE(registry_->Save(ctx_, project_, project_, Sha(old_manifest), {"old"}).ok());
  ASSERT_TRUE(meta_->DeleteRegistryTag(ctx_, project_, "old").ok());

  auto now = std::chrono::system_clock::now();
  auto epoch = std::chrono::system_clock::time_point{};
  // No tag is old enough; every record is: what "keep" reaches stays, the rest goes.
  ExpiryStats stats =
      registry_->Collect(ctx_, project_, epoch, now + std::chrono::minutes(1)).value();
  EXPECT_EQ(stats.tags, 0);
  EXPECT_EQ(stats.manifests, 1);  // old_manifest
  EXPECT_EQ(stats.blobs, 1);      // old_layer (config is shared with the kept image)
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/manifests/keep").status, 200);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/manifests/" + Sha(manifest)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(config)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(layer)).status, 200);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/manifests/" + Sha(old_manifest)).status, 404);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/blobs/" + Sha(old_layer)).status, 404);

  // The lease lets go of what no repository holds; the live image's blobs stay in it.
  EXPECT_EQ(registry_->ReleaseUnreferenced(ctx_, std::chrono::seconds(0)).value(), 2);
  std::vector<digest::Digest> leased =
      content_->leases().ListResources(ctx_, "berthd-registry").value();
  auto in_lease = [&](const std::string& data) {
    return std::find(leased.begin(), leased.end(), digest::FromBytes(data)) != leased.end();
  };
  for (const std::string& data : {config, layer, manifest, index}) {
    EXPECT_TRUE(in_lease(data)) << data;
  }
  EXPECT_FALSE(in_lease(old_layer));
  EXPECT_FALSE(in_lease(old_manifest));

  // Past the retention the tag goes too, and everything with it.
  stats =
      registry_
          ->Collect(ctx_, project_, now + std::chrono::minutes(1), now + std::chrono::minutes(1))
          .value();
  EXPECT_EQ(stats.tags, 1);
  EXPECT_EQ(stats.manifests, 2);
  EXPECT_EQ(stats.blobs, 2);
  EXPECT_EQ(Do("GET", "/v2/" + project_ + "/manifests/keep").status, 404);
  EXPECT_EQ(registry_->ReleaseUnreferenced(ctx_, std::chrono::seconds(0)).value(), 4);
}

TEST_F(RegistryTest, AcceptNegotiationServesWhatTheClientTakes) {
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "negotiated layer";
  std::string manifest = ImageManifest(config, layer);
  PushBlob(project_, config);
  PushBlob(project_, layer);
  ASSERT_EQ(PutManifest(project_, Sha(manifest), manifest).status, 201);
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      Sha(manifest) + R"(","size":)" + std::to_string(manifest.size()) +
      R"(,"platform":{"architecture":"amd64","os":"linux"}}]})";
  ASSERT_EQ(PutManifest(project_, "multi", index, "application/vnd.oci.image.index.v1+json").status,
            201);
  ASSERT_EQ(PutManifest(project_, "single", manifest).status, 201);
  std::string path = "/v2/" + project_ + "/manifests/";
  // No Accept, a wildcard, or the type among several headers: the index as stored.
  for (const std::vector<std::pair<std::string, std::string>>& headers :
       std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"Accept", "*/*"}},
           {{"Accept", "application/vnd.oci.image.manifest.v1+json"},
            {"Accept", "application/vnd.oci.image.index.v1+json; q=0.5"}}}) {
    HttpResponse r = Do("GET", path + "multi", headers);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), Sha(index));
  }
  // A client without index support gets the linux/amd64 image.
  HttpResponse r =
      Do("GET", path + "multi", {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, manifest);
  EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), Sha(manifest));
  // By digest: exactly what was asked for.
  r = Do("GET", path + Sha(index), {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(r.headers.Get("Docker-Content-Digest"), Sha(index));
  // A type the client does not take at all.
  r = Do("GET", path + "single",
         {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCodeOf(r), "MANIFEST_UNKNOWN");
}

}  // namespace
}  // namespace berth::registryserver
