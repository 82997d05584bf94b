#include "httpserver/server.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "registry/http.h"

namespace berth::httpserver {
namespace {

TEST(MatchPatternTest, SegmentsParamsAndRest) {
  std::map<std::string, std::string> p;
  EXPECT_TRUE(MatchPattern("/api/v1/projects/:id", "/api/v1/projects/p_1", &p));
  EXPECT_EQ(p.at("id"), "p_1");
  EXPECT_FALSE(MatchPattern("/api/v1/projects/:id", "/api/v1/projects", &p));
  EXPECT_FALSE(MatchPattern("/api/v1/projects/:id", "/api/v1/projects/a/b", &p));
  EXPECT_TRUE(MatchPattern("/files/*rest", "/files/a/b/c", &p));
  EXPECT_EQ(p.at("rest"), "a/b/c");
  EXPECT_FALSE(MatchPattern("/files/*rest", "/files", &p));
  EXPECT_TRUE(MatchPattern("/healthz", "/healthz", &p));
  EXPECT_TRUE(MatchPattern("/", "/", &p));
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Server::Options options = {}) {
    options.max_body = 1024;
    Result<std::unique_ptr<Server>> s = Server::Create(options);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(*s);
    server_->Route("GET", "/hello/:name", [](const Request& r) {
      return Response::Json(200, nlohmann::json{{"hello", r.params.at("name")},
                                                {"q", r.query.count("q") ? r.query.at("q") : ""},
                                                {"auth", r.Header("Authorization")}}
                                     .dump());
    });
    server_->Route("POST", "/echo", [](const Request& r) { return Response::Json(200, r.body); });
    server_->Route(
        "PUT", "/upload",
        [](const Request& r) {
          size_t total = 0;
          bool ok = r.read_body([&](std::string_view chunk) {
            total += chunk.size();
            return true;
          });
          return Response::Json(ok ? 200 : 400, std::to_string(total));
        },
        /*stream_body=*/true);
    server_->Route("GET", "/stream", [](const Request&) {
      Response r;
      r.content_type = "application/x-ndjson";
      r.stream = [](Writer& w) {
        for (int i = 0; i < 100; ++i) {
          if (!w.Write("{\"n\":" + std::to_string(i) + "}\n").ok()) {
            return;
          }
        }
      };
      return r;
    });
    server_->Route("GET", "/fail", [](const Request&) {
      return Response::FromError(Error::NotFound("project p_x not found"));
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }
  void TearDown() override {
    client_.reset();  // closes kept-alive connections, so Stop need not wait for them
    if (server_) {
      server_->Stop();
    }
  }
  std::string Url(const std::string& path, const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  registry::HttpResponse Do(const std::string& method, const std::string& url,
                            const std::string& body = "",
                            std::vector<std::pair<std::string, std::string>> headers = {}) {
    registry::HttpRequest req;
    req.method = method;
    req.url = url;
    req.body = body;
    req.headers = std::move(headers);
    req.skip_tls_verify = true;
    Result<registry::HttpResponse> r = client_->Do(Context::Background(), req);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : registry::HttpResponse{};
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<registry::HttpClient> client_ = std::make_unique<registry::HttpClient>();
};

TEST_F(ServerTest, RoutesParamsQueryAndHeaders) {
  StartServer();
  registry::HttpResponse r =
      Do("GET", Url("/hello/world?q=1"), "", {{"Authorization", "Bearer abc"}});
  EXPECT_EQ(r.status, 200);
  nlohmann::json j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["hello"], "world");
  EXPECT_EQ(j["q"], "1");
  EXPECT_EQ(j["auth"], "Bearer abc");
  EXPECT_EQ(r.headers.Get("content-type"), "application/json");
}

TEST_F(ServerTest, ErrorsAreJsonWithStatus) {
  StartServer();
  registry::HttpResponse missing = Do("GET", Url("/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["code"], "not_found");
  registry::HttpResponse method = Do("DELETE", Url("/echo"));
  EXPECT_EQ(method.status, 405);
  registry::HttpResponse fail = Do("GET", Url("/fail"));
  EXPECT_EQ(fail.status, 404);
  EXPECT_EQ(nlohmann::json::parse(fail.body)["error"]["message"], "project p_x not found");
}

TEST_F(ServerTest, BodiesBoundedOrStreamed) {
  StartServer();
  EXPECT_EQ(Do("POST", Url("/echo"), "{\"a\":1}").body, "{\"a\":1}");
  registry::HttpResponse big = Do("POST", Url("/echo"), std::string(4096, 'x'));
  EXPECT_EQ(big.status, 413);
  // A streaming route takes any size.
  registry::HttpResponse up = Do("PUT", Url("/upload"), std::string(1 << 20, 'y'));
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(up.body, std::to_string(1 << 20));
}

TEST_F(ServerTest, StreamsChunkedResponses) {
  StartServer();
  registry::HttpResponse r = Do("GET", Url("/stream"));
  EXPECT_EQ(r.status, 200);
  size_t lines = 0;
  for (char c : r.body) {
    lines += c == '\n' ? 1 : 0;
  }
  EXPECT_EQ(lines, 100u);
  EXPECT_EQ(r.body.substr(0, 8), "{\"n\":0}\n");
}

TEST_F(ServerTest, ServesTls) {
  char dir[] = "/tmp/berth-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string d = dir;
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                         "-keyout " +
                         d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1")
                            .c_str()),
            0);
  StartServer({.tls_cert = d + "/cert.pem", .tls_key = d + "/key.pem"});
  registry::HttpResponse r = Do("GET", Url("/hello/tls", "https"));
  EXPECT_EQ(r.status, 200);
  std::system(("rm -rf " + d).c_str());
}

TEST(ServerOptionsTest, StopRightAfterStartReturns) {
  for (int i = 0; i < 20; ++i) {
    Result<std::unique_ptr<Server>> s = Server::Create({});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Start().ok());
    (*s)->Stop();
  }
}

TEST(ServerOptionsTest, BadTlsFilesAreAnError) {
  Result<std::unique_ptr<Server>> s =
      Server::Create({.tls_cert = "/nonexistent/cert.pem", .tls_key = "/nonexistent/key.pem"});
  ASSERT_TRUE(s.ok());
  Result<> started = (*s)->Start();
  EXPECT_FALSE(started.ok());
}

}  // namespace
}  // namespace berth::httpserver
