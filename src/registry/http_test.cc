#include "registry/http.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(LinkHeader, Next) {
  EXPECT_EQ(ParseLinkNext(R"(</v2/repo/tags/list?last=b&n=2>; rel="next")"),
            "/v2/repo/tags/list?last=b&n=2");
  EXPECT_EQ(ParseLinkNext(R"(<https://x/a?p=1>; rel="prev", <https://x/a?p=3>; rel="next")"),
            "https://x/a?p=3");
  EXPECT_EQ(ParseLinkNext(R"(<https://x/a>;rel=next)"), "https://x/a");
  EXPECT_EQ(ParseLinkNext(R"(<https://x/a>; rel="first next")"), "https://x/a");
  EXPECT_EQ(ParseLinkNext(R"(<https://x/a>; rel="prev")"), std::nullopt);
  EXPECT_EQ(ParseLinkNext(""), std::nullopt);
  EXPECT_EQ(ParseLinkNext("<unterminated; rel=next"), std::nullopt);
}

TEST(ResolveUrl, Forms) {
  EXPECT_EQ(ResolveUrl("http://h:5000/v2/r/blobs/uploads/", "/v2/r/blobs/uploads/abc?_state=x"),
            "http://h:5000/v2/r/blobs/uploads/abc?_state=x");
  EXPECT_EQ(ResolveUrl("http://h:5000/v2/r/tags/list", "https://other/x"), "https://other/x");
  EXPECT_EQ(ResolveUrl("http://h/v2/r/tags/list?n=1", "list?n=2&last=a"),
            "http://h/v2/r/tags/list?n=2&last=a");
  EXPECT_EQ(ResolveUrl("http://h", "/v2/"), "http://h/v2/");
}

TEST(ErrorBody, Decodes) {
  EXPECT_EQ(
      DecodeErrorBody(
          R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})"),
      R"(MANIFEST_UNKNOWN: manifest unknown ({"Tag":"x"}))");
  EXPECT_EQ(
      DecodeErrorBody(
          R"({"errors":[{"code":"UNAUTHORIZED","message":"a"},{"code":"DENIED","message":"b"}]})"),
      "UNAUTHORIZED: a; DENIED: b");
  EXPECT_EQ(DecodeErrorBody("<html>oops</html>"), "");
  EXPECT_EQ(DecodeErrorBody(R"({"error":"x"})"), "");
}

TEST(QueryEscape, Reserved) {
  EXPECT_EQ(QueryEscape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_EQ(QueryEscape("A-z_0.~"), "A-z_0.~");
}

TEST(HttpHeaders, CaseInsensitive) {
  HttpHeaders h;
  h.entries = {{"docker-content-digest", "sha256:x"}, {"link", "a"}, {"link", "b"}};
  EXPECT_EQ(h.Get("Docker-Content-Digest"), "sha256:x");
  EXPECT_EQ(h.GetAll("Link"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(h.Has("location"));
}

}  // namespace
}  // namespace berth::registry
