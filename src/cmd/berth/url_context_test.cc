#include "cmd/berth/url_context.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "archive/testing/tree.h"
#include "base/io.h"
#include "compress/compress.h"
#include "httpserver/server.h"
#include "os/file.h"

namespace berth::cmd {
namespace {

using archive::testing::ReadFileOrEmpty;
using archive::testing::TarBuilder;
using archive::testing::TempDir;
using ::testing::HasSubstr;

std::string Compress(compress::Format format, const std::string& data) {
  StringWriter out;
  auto w = compress::NewWriter(format, out);
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Write(data).ok());
  EXPECT_TRUE((*w)->Close().ok());
  return out.Take();
}

std::string SampleTar() {
  return TarBuilder()
      .File("Dockerfile", "FROM busybox\nCOPY a.txt /\n")
      .Dir("sub")
      .File("sub/a.txt", "one\n")
      .Finish();
}

// The names in `dir`, sorted; empty when it does not exist.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(UrlContextTest, IsUrlContext) {
  EXPECT_TRUE(IsUrlContext("https://example.com/ctx.tar.gz"));
  EXPECT_TRUE(IsUrlContext("HTTP://example.com/Dockerfile"));
  EXPECT_FALSE(IsUrlContext("ftp://example.com/ctx.tar"));
  EXPECT_FALSE(IsUrlContext("git@github.com:org/repo.git"));
  EXPECT_FALSE(IsUrlContext("./ctx"));
  EXPECT_FALSE(IsUrlContext("http:"));
}

TEST(UrlContextTest, DetectsArchivesByContent) {
  std::string tar = SampleTar();
  EXPECT_EQ(DetectUrlContent(tar), UrlContent::kTar);
  EXPECT_EQ(DetectUrlContent(Compress(compress::Format::kGzip, tar)), UrlContent::kCompressed);
  EXPECT_EQ(DetectUrlContent(Compress(compress::Format::kZstd, tar)), UrlContent::kCompressed);
  EXPECT_EQ(DetectUrlContent(std::string("\xFD"
                                         "7zXZ\0\0\x04",
                                         8)),
            UrlContent::kCompressed);
  EXPECT_EQ(DetectUrlContent("BZh91AY&SY" + std::string(20, 'x')), UrlContent::kCompressed);
  // A Dockerfile, however long, and a tar whose header checksum is wrong are text.
  EXPECT_EQ(DetectUrlContent("FROM busybox\nRUN echo hi\n"), UrlContent::kText);
  EXPECT_EQ(DetectUrlContent("FROM busybox\n" + std::string(600, '#')), UrlContent::kText);
  std::string broken = tar;
  broken[0] ^= 1;
  EXPECT_EQ(DetectUrlContent(broken), UrlContent::kText);
  EXPECT_EQ(DetectUrlContent(std::string(1024, '\0')), UrlContent::kText);
  EXPECT_EQ(DetectUrlContent(""), UrlContent::kText);
}

// Serves fixed bodies by path on loopback; anything else is 404.
class UrlContextFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<httpserver::Server>> s = httpserver::Server::Create({.threads = 2});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(*s);
    server_->Route("GET", "/*path", [this](const httpserver::Request& r) {
      httpserver::Response response;
      auto it = bodies_.find(r.params.at("path"));
      if (it == bodies_.end()) {
        response.status = 404;
        response.body = "not found";
        return response;
      }
      response.content_type = "application/octet-stream";
      response.body = it->second;
      return response;
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Stop(); }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/" + path;
  }
  Result<UrlContext> Fetch(const std::string& path, UrlContextOptions options = {}) {
    return FetchUrlContext(Context::Background(), root_.path(), Url(path), options);
  }

  std::map<std::string, std::string> bodies_;  // set before the requests
  std::unique_ptr<httpserver::Server> server_;
  TempDir root_;
};

TEST_F(UrlContextFetchTest, ExtractsTarballsOfEveryCompression) {
  std::string tar = SampleTar();
  bodies_["ctx.tar"] = tar;
  bodies_["ctx.tar.gz"] = Compress(compress::Format::kGzip, tar);
  bodies_["ctx.tar.zst"] = Compress(compress::Format::kZstd, tar);
  bodies_["misnamed.txt"] = Compress(compress::Format::kGzip, tar);
  for (std::string path : {"ctx.tar", "ctx.tar.gz", "ctx.tar.zst", "misnamed.txt"}) {
    Result<UrlContext> got = Fetch(path);
    ASSERT_TRUE(got.ok()) << path << ": " << got.error().ToString();
    EXPECT_FALSE(got->dockerfile) << path;
    EXPECT_EQ(got->dir, got->temp_dir + "/context");
    EXPECT_TRUE(got->temp_dir.starts_with(root_.path() + "/tmp/context-")) << got->temp_dir;
    EXPECT_EQ(ReadFileOrEmpty(got->dir + "/Dockerfile"), "FROM busybox\nCOPY a.txt /\n") << path;
    EXPECT_EQ(ReadFileOrEmpty(got->dir + "/sub/a.txt"), "one\n") << path;
    // Only the context is left: the download is gone.
    EXPECT_EQ(Entries(got->temp_dir), std::vector<std::string>{"context"}) << path;
  }
}

TEST_F(UrlContextFetchTest, ExtractsXzTarballs) {
  if (archive::testing::Shell("command -v xz >/dev/null") != 0) {
    GTEST_SKIP() << "xz is not installed";
  }
  ASSERT_TRUE(os::WriteFileAtomic(root_ / "ctx.tar", SampleTar()).ok());
  ASSERT_EQ(archive::testing::Shell("xz -z " + (root_ / "ctx.tar")), 0);
  bodies_["ctx.tar.xz"] = ReadFileOrEmpty(root_ / "ctx.tar.xz");
  Result<UrlContext> got = Fetch("ctx.tar.xz");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(got->dir + "/sub/a.txt"), "one\n");
}

TEST_F(UrlContextFetchTest, PlainTextIsTheDockerfileWithAnEmptyContext) {
  bodies_["Dockerfile"] = "FROM busybox\nRUN echo from-url\n";
  Result<UrlContext> got = Fetch("Dockerfile");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_TRUE(got->dockerfile);
  EXPECT_EQ(*got->dockerfile, "FROM busybox\nRUN echo from-url\n");
  EXPECT_TRUE(Entries(got->dir).empty());
  EXPECT_TRUE(os::Exists(got->dir));
  EXPECT_EQ(Entries(got->temp_dir), std::vector<std::string>{"context"});

  // A named context must be an archive.
  Result<UrlContext> named = Fetch("Dockerfile", {.require_archive = true});
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(named.error().ToString(), HasSubstr(Url("Dockerfile") + ": not a tar archive"));
}

TEST_F(UrlContextFetchTest, ErrorsNameTheUrlAndLeaveNothing) {
  auto expect_error = [&](const std::string& path, ErrorCode code, const std::string& text,
                          UrlContextOptions options = {}) {
    Result<UrlContext> got = Fetch(path, options);
    ASSERT_FALSE(got.ok()) << path;
    EXPECT_EQ(got.error().code(), code) << got.error().ToString();
    EXPECT_THAT(got.error().ToString(), HasSubstr("context " + Url(path) + ": "));
    EXPECT_THAT(got.error().ToString(), HasSubstr(text));
    EXPECT_TRUE(Entries(root_ / "tmp").empty()) << path;
  };
  expect_error("missing.tar.gz", ErrorCode::kNotFound, "HTTP status 404");

  bodies_["big.tar"] = SampleTar();
  expect_error("big.tar", ErrorCode::kResourceExhausted, "larger than 1000 bytes",
               {.max_bytes = 1000});
  bodies_["big-Dockerfile"] = "FROM busybox\n" + std::string(kMaxUrlDockerfileBytes, '#');
  expect_error("big-Dockerfile", ErrorCode::kResourceExhausted, "too large for a Dockerfile");

  bodies_["gzipped.txt"] = Compress(compress::Format::kGzip, "FROM busybox\n");
  expect_error("gzipped.txt", ErrorCode::kInvalidArgument, "compressed, but not a tar archive");

  bodies_["binary"] = std::string(
      "\x7f"
      "ELF\x02\x01\x01\0\0\0",
      10);
  expect_error("binary", ErrorCode::kInvalidArgument, "neither a tar archive nor a Dockerfile");
}

TEST_F(UrlContextFetchTest, HostileArchivesAreRefusedOrContained) {
  bodies_["dotdot.tar"] = TarBuilder().File("ok.txt", "ok").File("../escape.txt", "x").Finish();
  Result<UrlContext> dotdot = Fetch("dotdot.tar");
  ASSERT_FALSE(dotdot.ok());
  EXPECT_EQ(dotdot.error().code(), ErrorCode::kInvalidArgument) << dotdot.error().ToString();
  EXPECT_THAT(dotdot.error().ToString(), HasSubstr("../escape.txt escapes the destination"));
  EXPECT_THAT(dotdot.error().ToString(), HasSubstr(Url("dotdot.tar")));
  EXPECT_FALSE(os::Exists(root_ / "tmp/escape.txt"));
  EXPECT_TRUE(Entries(root_ / "tmp").empty());

  // A symlink out of the context stays a symlink; nothing is written through it.
  bodies_["symlink.tar.gz"] =
      Compress(compress::Format::kGzip,
               TarBuilder().Symlink("out", root_.path()).File("out/planted.txt", "x").Finish());
  Result<UrlContext> symlink = Fetch("symlink.tar.gz");
  ASSERT_FALSE(symlink.ok());
  EXPECT_EQ(symlink.error().code(), ErrorCode::kInvalidArgument) << symlink.error().ToString();
  EXPECT_FALSE(os::Exists(root_ / "planted.txt"));
  EXPECT_TRUE(Entries(root_ / "tmp").empty());

  // Absolute names land inside the context.
  bodies_["absolute.tar"] = TarBuilder().File("/etc/abs.txt", "abs").Finish();
  Result<UrlContext> absolute = Fetch("absolute.tar");
  ASSERT_TRUE(absolute.ok()) << absolute.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(absolute->dir + "/etc/abs.txt"), "abs");
}

}  // namespace
}  // namespace berth::cmd
