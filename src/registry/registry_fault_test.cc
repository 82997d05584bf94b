// Fault tests: the client against a tiny in-process HTTP server that misbehaves on purpose.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "content/local_store.h"
#include "oci/media_types.h"
#include "oci/testing/test_image.h"
#include "registry/client.h"
#include "registry/testing/docker_registry.h"

namespace berth::registry {
namespace {

struct TinyRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct TinyResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When >= 0, only this many body bytes are sent before the connection is closed (the
  // Content-Length still announces the whole body).
  int64_t truncate_at = -1;
};

// A minimal HTTP/1.1 server on 127.0.0.1:0: one connection at a time, one request per
// connection ("Connection: close"). Enough to script a registry's answers.
class TinyServer {
 public:
  using Handler = std::function<TinyResponse(const TinyRequest&)>;

  // Listens on `address` (an IPv4 address in network byte order; loopback by default).
  explicit TinyServer(Handler handler, in_addr_t address = htonl(INADDR_LOOPBACK))
      : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = address;
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    host_ = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;
  ~TinyServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  const std::string& host() const { return host_; }
  std::vector<TinyRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Connections that opened with a TLS handshake (this server speaks plain HTTP only: it closes
  // them at once, as a plain-HTTP registry's TLS failure looks to a client).
  int tls_attempts() const { return tls_attempts_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        continue;
      }
      Handle(conn);
      ::close(conn);
    }
  }

  void Handle(int conn) {
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) {
        return;
      }
      data.append(buf, static_cast<size_t>(n));
      if (data[0] == '\x16') {  // a TLS record: handshake
        tls_attempts_++;
        return;
      }
    }
    TinyRequest req;
    std::string head = data.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' ');
    size_t sp2 = first.find(' ', sp1 + 1);
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) {
        end = head.size();
      }
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = end + 2;
    }
    req.body = data.substr(header_end + 4);
    size_t want =
        req.Header("content-length").empty() ? 0 : std::stoul(req.Header("content-length"));
    while (req.body.size() < want) {
      ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) {
        return;
      }
      req.body.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    TinyResponse resp = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " X\r\n";
    for (const auto& [k, v] : resp.headers) {
      out += k + ": " + v + "\r\n";
    }
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
    if (req.method != "HEAD") {
      out += resp.truncate_at >= 0 ? resp.body.substr(0, static_cast<size_t>(resp.truncate_at))
                                   : resp.body;
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(conn, out.data() + off, out.size() - off);
      if (n <= 0) {
        return;
      }
      off += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int fd_ = -1;
  std::string host_;
  std::atomic<bool> stop_{false};
  std::atomic<int> tls_attempts_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<TinyRequest> requests_;
};

reference::Reference Ref(const std::string& text) {
  auto r = reference::ParseNormalized(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.value_or(reference::Reference{});
}

ClientOptions FastOptions() {
  ClientOptions o;
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = std::chrono::milliseconds(5);
  o.retry.max_backoff = std::chrono::milliseconds(20);
  return o;
}

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
    std::string(64, 'a') + R"(","size":2},"layers":[]})";

TinyResponse ManifestResponse() {
  TinyResponse r;
  r.headers = {{"Content-Type", std::string(oci::kMediaTypeImageManifest)}};
  r.body = kManifest;
  return r;
}

TEST(RegistryFaults, ServerErrorsAreRetried) {
  std::atomic<int> calls{0};
  TinyServer server([&](const TinyRequest&) {
    if (calls++ < 2) {
      return TinyResponse{500, {}, "boom"};
    }
    return ManifestResponse();
  });
  Client client(FastOptions());
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->bytes, kManifest);
  EXPECT_EQ(m->descriptor.digest, oci::DescribeBlob("x", kManifest).digest);
  EXPECT_EQ(m->descriptor.media_type, oci::kMediaTypeImageManifest);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(RegistryFaults, GivesUpWithAClearError) {
  TinyServer server([&](const TinyRequest&) {
    return TinyResponse{503,
                        {{"Content-Type", "application/json"}},
                        R"({"errors":[{"code":"UNAVAILABLE","message":"try later"}]})"};
  });
  Client client(FastOptions());
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kUnavailable);
  std::string text = m.error().ToString();
  EXPECT_NE(text.find("UNAVAILABLE: try later"), std::string::npos) << text;
  EXPECT_NE(text.find("after 3 attempts"), std::string::npos) << text;
  EXPECT_EQ(server.requests().size(), 3u);

  // Refused connections are retried too, then reported.
  int port = 0;
  {
    TinyServer gone([](const TinyRequest&) { return TinyResponse{}; });
    port = std::stoi(gone.host().substr(gone.host().find(':') + 1));
  }
  auto refused =
      client.Resolve(Context::Background(), Ref("127.0.0.1:" + std::to_string(port) + "/r/img:v1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable) << refused.error().ToString();
}

TEST(RegistryFaults, UnauthorizedWithoutUsableChallenge) {
  TinyServer server([&](const TinyRequest&) { return TinyResponse{401, {}, ""}; });
  Client client(FastOptions());
  auto m = client.Resolve(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kUnauthenticated);
  std::string text = m.error().ToString();
  EXPECT_NE(text.find(server.host()), std::string::npos) << text;
  EXPECT_NE(text.find("docker login"), std::string::npos) << text;
  EXPECT_NE(text.find("config.json"), std::string::npos) << text;

  TinyServer basic([&](const TinyRequest&) {
    return TinyResponse{401, {{"WWW-Authenticate", R"(Basic realm="x")"}}, ""};
  });
  auto b = client.Resolve(Context::Background(), Ref(basic.host() + "/r/img:v1"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(b.error().ToString().find("no credentials"), std::string::npos) << b.error().ToString();
  EXPECT_EQ(basic.requests().size(), 1u);
}

TEST(RegistryFaults, BearerTokenDanceAndCache) {
  std::string host;
  TinyServer server([&](const TinyRequest& req) {
    if (req.target.starts_with("/token")) {
      if (req.Header("authorization") != "Basic " + Base64Encode("bob:pw")) {
        return TinyResponse{401, {}, ""};
      }
      if (req.target.find("scope=repository%3Ar%2Fimg%3Apull") == std::string::npos ||
          req.target.find("service=tiny") == std::string::npos) {
        return TinyResponse{400, {}, "bad scope " + req.target};
      }
      return TinyResponse{200, {}, R"({"access_token":"tok123","expires_in":300})"};
    }
    if (req.Header("authorization") != "Bearer tok123") {
      return TinyResponse{401,
                          {{"WWW-Authenticate", "Bearer realm=\"http://" + host +
                                                    "/token\",service=\"tiny\",scope=\"x\""}},
                          R"({"errors":[{"code":"UNAUTHORIZED","message":"no"}]})"};
    }
    return ManifestResponse();
  });
  host = server.host();
  ClientOptions options = FastOptions();
  options.credentials.Set(server.host(), {"bob", "pw"});
  Client client(std::move(options));
  for (int i = 0; i < 3; ++i) {
    auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
    ASSERT_TRUE(m.ok()) << m.error().ToString();
  }
  EXPECT_EQ(client.stats().token_fetches, 1u);
  // 401, token, manifest, then two manifests with the cached token.
  EXPECT_EQ(server.requests().size(), 5u);

  // Without credentials the token endpoint refuses: a clear error.
  Client anonymous(FastOptions());
  auto denied = anonymous.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(denied.error().ToString().find("docker login"), std::string::npos);
}

TEST(RegistryFaults, IdentityTokenIsARefreshTokenGrant) {
  std::string host;
  TinyServer server([&](const TinyRequest& req) {
    if (req.target.starts_with("/token")) {
      if (req.method != "POST" ||
          req.Header("content-type") != "application/x-www-form-urlencoded" ||
          req.body.find("grant_type=refresh_token") == std::string::npos ||
          req.body.find("refresh_token=id%2Btok") == std::string::npos ||
          req.body.find("service=tiny") == std::string::npos ||
          req.body.find("scope=repository%3Ar%2Fimg%3Apull") == std::string::npos) {
        return TinyResponse{400, {}, R"({"error":"invalid_grant"})"};
      }
      return TinyResponse{200, {}, R"({"access_token":"acc","expires_in":300})"};
    }
    if (req.Header("authorization") != "Bearer acc") {
      return TinyResponse{
          401,
          {{"WWW-Authenticate", "Bearer realm=\"http://" + host + "/token\",service=\"tiny\""}},
          ""};
    }
    return ManifestResponse();
  });
  host = server.host();
  ClientOptions options = FastOptions();
  Credentials creds;
  creds.identity_token = "id+tok";
  options.credentials.Set(server.host(), creds);
  Client client(std::move(options));
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(client.stats().token_fetches, 1u);

  // A refused identity token is a clear error naming the registry.
  ClientOptions bad_options = FastOptions();
  Credentials bad;
  bad.identity_token = "expired";
  bad_options.credentials.Set(server.host(), bad);
  Client refused(std::move(bad_options));
  auto denied = refused.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthenticated);
  std::string text = denied.error().ToString();
  EXPECT_NE(text.find("refused the identity token"), std::string::npos) << text;
  EXPECT_NE(text.find(server.host()), std::string::npos) << text;
}

TEST(RegistryFaults, CredentialHelperErrorsNameTheHelperAndRegistry) {
  TinyServer server([&](const TinyRequest&) {
    return TinyResponse{401, {{"WWW-Authenticate", "Basic realm=\"tiny\""}}, ""};
  });
  ClientOptions options = FastOptions();
  auto config = DockerConfig::Parse(R"({"credsStore":"vault"})");
  ASSERT_TRUE(config.ok());
  options.credentials = *config;
  int calls = 0;
  options.credentials.SetHelperRunner(
      [&](const std::string& helper, const std::string&) -> Result<std::optional<Credentials>> {
        ++calls;
        return Error::FailedPrecondition("docker-credential-" + helper + " get failed");
      });
  Client client(std::move(options));
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(m.ok());
  std::string text = m.error().ToString();
  EXPECT_NE(text.find("docker-credential-vault"), std::string::npos) << text;
  EXPECT_NE(text.find("registry " + server.host()), std::string::npos) << text;
  EXPECT_EQ(calls, 1);
}

TEST(RegistryFaults, InsecureRegistryFallsBackFromHttpsToHttp) {
  std::string ip = test::NonLoopbackIPv4();
  if (ip.empty()) {
    GTEST_SKIP() << "no non-loopback IPv4 address: loopback registries are always plain HTTP";
  }
  in_addr addr{};
  ASSERT_EQ(::inet_pton(AF_INET, ip.c_str(), &addr), 1);
  TinyServer server([&](const TinyRequest&) { return ManifestResponse(); }, addr.s_addr);
  ClientOptions options = FastOptions();
  options.config.SetInsecure(server.host(), true);
  Client client(std::move(options));
  for (int i = 0; i < 3; ++i) {
    auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
    ASSERT_TRUE(m.ok()) << m.error().ToString();
  }
  // HTTPS was tried once; after plain HTTP answered, the client went there directly.
  EXPECT_EQ(server.tls_attempts(), 1);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(client.stats().retries, 0u);

  // Not marked insecure: HTTPS only, and its failure is the error.
  ClientOptions strict_options = FastOptions();
  strict_options.retry.max_attempts = 1;
  Client strict(std::move(strict_options));
  auto refused = strict.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(server.tls_attempts(), 2);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(RegistryFaults, InsecureRegistryDoesNotSwitchToAnHttpsServersPlainPort) {
  std::string ip = test::NonLoopbackIPv4();
  if (ip.empty()) {
    GTEST_SKIP() << "no non-loopback IPv4 address: loopback registries are always plain HTTP";
  }
  in_addr addr{};
  ASSERT_EQ(::inet_pton(AF_INET, ip.c_str(), &addr), 1);
  // What an HTTPS server answers to plain HTTP: the HTTPS failure was a passing one.
  TinyServer server(
      [&](const TinyRequest&) {
        return TinyResponse{400, {}, "Client sent an HTTP request to an HTTPS server.\n"};
      },
      addr.s_addr);
  ClientOptions options = FastOptions();
  options.config.SetInsecure(server.host(), true);
  Client client(std::move(options));
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:v1"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kUnavailable) << m.error().ToString();
  EXPECT_NE(m.error().ToString().find("https://" + server.host()), std::string::npos)
      << m.error().ToString();
  // Every attempt went to HTTPS first: HTTP was never taken for the registry's address.
  EXPECT_EQ(server.tls_attempts(), 3);
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(RegistryFaults, BlobNotMatchingItsDigestIsNotStored) {
  std::string real = "the real content";
  std::string fake = "the fake content";  // same length
  oci::Descriptor desc = oci::DescribeBlob(oci::kMediaTypeImageLayerGzip, real);
  TinyServer server([&](const TinyRequest&) { return TinyResponse{200, {}, fake}; });
  oci::test::TempDir dir;
  auto store = content::LocalStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok());
  Client client(FastOptions());
  Context ctx = Context::Background();
  auto r = client.FetchBlobToStore(ctx, Ref(server.host() + "/r/img"), desc, **store);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss) << r.error().ToString();
  EXPECT_FALSE(*(*store)->Exists(ctx, desc.digest));
  auto ingests = (*store)->ListIngests(ctx);
  ASSERT_TRUE(ingests.ok());
  EXPECT_TRUE(ingests->empty());

  StringWriter out;
  auto w = client.FetchBlob(ctx, Ref(server.host() + "/r/img"), desc, out);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), ErrorCode::kDataLoss);

  // Too many bytes are refused as they arrive.
  TinyServer longer([&](const TinyRequest&) { return TinyResponse{200, {}, real + "extra"}; });
  auto l = client.FetchBlobToStore(ctx, Ref(longer.host() + "/r/img"), desc, **store);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code(), ErrorCode::kDataLoss) << l.error().ToString();
  EXPECT_FALSE(*(*store)->Exists(ctx, desc.digest));
}

TEST(RegistryFaults, InterruptedBlobResumesWithRange) {
  std::string data(100000, 'z');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>('a' + (i * 31) % 26);
  }
  oci::Descriptor desc = oci::DescribeBlob(oci::kMediaTypeImageLayerGzip, data);
  std::atomic<int> calls{0};
  TinyServer server([&](const TinyRequest& req) {
    if (calls++ == 0) {
      TinyResponse r{200, {}, data};
      r.truncate_at = 40000;
      return r;
    }
    std::string range = req.Header("range");
    if (range != "bytes=40000-") {
      return TinyResponse{500, {}, "unexpected range " + range};
    }
    return TinyResponse{206, {{"Content-Range", "bytes 40000-99999/100000"}}, data.substr(40000)};
  });
  oci::test::TempDir dir;
  auto store = content::LocalStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok());
  Client client(FastOptions());
  Context ctx = Context::Background();
  std::atomic<uint64_t> last_done{0};
  auto r = client.FetchBlobToStore(ctx, Ref(server.host() + "/r/img"), desc, **store,
                                   [&](const BlobProgress& p) { last_done = p.done; });
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(last_done.load(), data.size());
  auto stored = content::ReadBlob(ctx, **store, desc.digest);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, data);
}

TEST(RegistryFaults, ErrorDocumentsAndNotFound) {
  TinyServer server([&](const TinyRequest&) {
    return TinyResponse{404,
                        {{"Content-Type", "application/json"}},
                        R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"};
  });
  Client client(FastOptions());
  auto m = client.FetchManifest(Context::Background(), Ref(server.host() + "/r/img:nope"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(m.error().ToString().find("r/img:nope"), std::string::npos) << m.error().ToString();
  TinyServer denied([&](const TinyRequest&) {
    return TinyResponse{403, {}, R"({"errors":[{"code":"DENIED","message":"no push for you"}]})"};
  });
  auto p = client.PushManifest(Context::Background(), Ref(denied.host() + "/r/img"), "v1",
                               std::string(oci::kMediaTypeImageManifest), kManifest);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(p.error().ToString().find("DENIED: no push for you"), std::string::npos);
}

TEST(RegistryFaults, MirrorsFirstThenUpstream) {
  TinyServer upstream([&](const TinyRequest&) { return ManifestResponse(); });
  TinyServer empty_mirror([&](const TinyRequest&) { return TinyResponse{404, {}, ""}; });
  ClientOptions options = FastOptions();
  options.config.AddMirror(upstream.host(), empty_mirror.host());
  Client client(std::move(options));
  auto m = client.FetchManifest(Context::Background(), Ref(upstream.host() + "/library/x:1"));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  ASSERT_EQ(empty_mirror.requests().size(), 1u);
  EXPECT_EQ(empty_mirror.requests()[0].target, "/v2/library/x/manifests/1");
  EXPECT_EQ(upstream.requests().size(), 1u);

  TinyServer good_mirror([&](const TinyRequest&) { return ManifestResponse(); });
  ClientOptions options2 = FastOptions();
  options2.config.AddMirror(upstream.host(), good_mirror.host());
  Client client2(std::move(options2));
  ASSERT_TRUE(
      client2.FetchManifest(Context::Background(), Ref(upstream.host() + "/library/x:1")).ok());
  EXPECT_EQ(good_mirror.requests().size(), 1u);
  EXPECT_EQ(upstream.requests().size(), 1u);  // unchanged
}

TEST(RegistryFaults, TagsFollowLinkPages) {
  TinyServer server([&](const TinyRequest& req) {
    if (req.target == "/v2/r/img/tags/list?n=2") {
      return TinyResponse{200,
                          {{"Link", R"(</v2/r/img/tags/list?n=2&last=b>; rel="next")"}},
                          R"({"name":"r/img","tags":["a","b"]})"};
    }
    if (req.target == "/v2/r/img/tags/list?n=2&last=b") {
      return TinyResponse{200, {}, R"({"name":"r/img","tags":["c"]})"};
    }
    return TinyResponse{404, {}, ""};
  });
  Client client(FastOptions());
  auto tags = client.ListTags(Context::Background(), Ref(server.host() + "/r/img"), 2);
  ASSERT_TRUE(tags.ok()) << tags.error().ToString();
  EXPECT_EQ(*tags, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(RegistryFaults, DeadlineCutsAStalledRequest) {
  TinyServer server([&](const TinyRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    return ManifestResponse();
  });
  Client client(FastOptions());
  auto start = std::chrono::steady_clock::now();
  Context ctx = Context::Background().WithTimeout(std::chrono::milliseconds(150));
  auto m = client.FetchManifest(ctx, Ref(server.host() + "/r/img:v1"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kDeadlineExceeded) << m.error().ToString();
  EXPECT_LT(elapsed, std::chrono::milliseconds(700));
}

TEST(RegistryFaults, ConcurrentFetchesOfOneBlobStoreItOnce) {
  std::string data(200000, 'q');
  oci::Descriptor desc = oci::DescribeBlob(oci::kMediaTypeImageLayerGzip, data);
  TinyServer server([&](const TinyRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return TinyResponse{200, {}, data};
  });
  oci::test::TempDir dir;
  auto store = content::LocalStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok());
  Client client(FastOptions());
  Context ctx = Context::Background();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      if (client.FetchBlobToStore(ctx, Ref(server.host() + "/r/img"), desc, **store).ok()) {
        ok++;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 3) << "a fetcher gave up on the ingest another one held";
  EXPECT_TRUE(*(*store)->Exists(ctx, desc.digest));
  // Usually one GET; a fetcher that opens its ingest in the instant between another's commit
  // and its release of the ingest fetches again (harmless: its commit finds the blob there).
  EXPECT_LE(server.requests().size(), 2u);
}

}  // namespace
}  // namespace berth::registry
