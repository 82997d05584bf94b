#include "registryserver/registry.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include "base/io.h"
#include "base/log.h"
#include "base/strings.h"
#include "digest/digest.h"
#include "os/file.h"
#include "registry/auth.h"
#include "registryserver/parse.h"
#include "service/api.h"

namespace berth::registryserver {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

namespace {

constexpr std::string_view kUploadRefPrefix = "registry-upload-";
constexpr size_t kUploadIdChars = 32;
constexpr int kDefaultTagPage = 10000;
constexpr size_t kCopyBuffer = size_t{1} << 20;
constexpr std::chrono::minutes kCleanEvery{10};

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The distribution spec's error body: {"errors":[{"code":..,"message":..,"detail":..}]}.
Response RegistryError(int status, std::string_view code, const std::string& message,
                       const json& detail = json::object()) {
  json body = {
      {"errors", json::array({{{"code", code}, {"message", message}, {"detail", detail}}})}};
  Response r = Response::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
  r.content_type = "application/json; charset=utf-8";
  return r;
}

Response InternalError(const Error& error) {
  log::Err("registry: " + error.ToString());
  return RegistryError(500, "UNKNOWN", "internal error");
}

Response Empty(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

void AddHeader(Response& r, std::string name, std::string value) {
  r.headers.emplace_back(std::move(name), std::move(value));
}

std::string RandomHex(size_t chars) {
  std::string bytes(chars / 2, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) !=
      1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool IsUploadId(std::string_view id) {
  return id.size() == kUploadIdChars &&
         id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string ProjectOf(const std::string& name) {
  return name.substr(0, name.find('/'));
}

// A digest the registry can store: sha256 only (the content store's algorithm).
Result<digest::Digest> ParseDigest(std::string_view text) {
  digest::Digest d = BERTH_TRY(digest::Digest::Parse(text));
  if (d.algorithm() != "sha256") {
    return Error::InvalidArgument("unsupported digest algorithm " + d.algorithm());
  }
  return d;
}

// Content-Type without parameters ("; charset=...").
std::string BareMediaType(std::string_view header) {
  return std::string(Trim(header.substr(0, header.find(';'))));
}

// The record of a manifest stored in `repository`.
metastore::RegistryManifest RecordOf(const std::string& repository, const digest::Digest& d,
                                     size_t size, const ParsedManifest& parsed) {
  return {.repository = repository,
          .digest = d.ToString(),
          .media_type = parsed.media_type,
          .size = static_cast<int64_t>(size),
          .artifact_type = parsed.artifact_type,
          .subject = parsed.subject,
          .annotations_json = parsed.annotations_json};
}

// Adapts a content-store writer to a request body sink, remembering the first error.
struct BodyToWriter {
  content::Writer& writer;
  Error error = Error::Internal("");
  bool failed = false;
  bool operator()(std::string_view data) {
    Result<> w = writer.Write(data);
    if (!w.ok()) {
      error = w.error();
      failed = true;
      return false;
    }
    return true;
  }
};

}  // namespace

// The handlers, one per operation; nested in Registry so that they see its stores.
class Registry::Handlers {
 public:
  explicit Handlers(Registry& r) : r_(r) {}

  Response Handle(const Request& req) {
    Response out = Dispatch(req);
    AddHeader(out, "Docker-Distribution-API-Version", "registry/2.0");
    return out;
  }

 private:
  using Kind = RegistryPath::Kind;

  struct Access {
    bool ok = false;
    Response denied;       // When not ok.
    std::string token_id;  // Who is calling.
  };

  Response Dispatch(const Request& req) {
    std::optional<RegistryPath> path = ParseRegistryPath(req.path);
    if (!path) {
      return RegistryError(404, "NAME_UNKNOWN", "no such registry path");
    }
    const std::string& m = req.method;
    bool get = m == "GET" || m == "HEAD";
    switch (path->kind) {
      case Kind::kBase:
        return get ? Base(req) : MethodNotAllowed();
      case Kind::kToken:
        return m == "GET" ? Token(req) : MethodNotAllowed();
      case Kind::kCatalog:
        return m == "GET" ? Catalog(req) : MethodNotAllowed();
      default:
        break;
    }
    if (!IsValidName(path->name)) {
      return RegistryError(400, "NAME_INVALID", "invalid repository name",
                           {{"name", Bounded(path->name)}});
    }
    const std::string& name = path->name;
    const std::string& ref = path->reference;
    switch (path->kind) {
      case Kind::kBlob:
        if (get) {
          return GetBlob(req, name, ref);
        }
        return m == "DELETE" ? DeleteBlob(req, name, ref) : MethodNotAllowed();
      case Kind::kUploads:
        return m == "POST" ? StartUpload(req, name) : MethodNotAllowed();
      case Kind::kUpload:
        if (m == "PATCH") {
          return PatchUpload(req, name, ref);
        }
        if (m == "PUT") {
          return PutUpload(req, name, ref);
        }
        if (m == "GET") {
          return UploadStatus(req, name, ref);
        }
        return m == "DELETE" ? CancelUpload(req, name, ref) : MethodNotAllowed();
      case Kind::kManifest:
        if (get) {
          return GetManifest(req, name, ref);
        }
        if (m == "PUT") {
          return PutManifest(req, name, ref);
        }
        return m == "DELETE" ? DeleteManifest(req, name, ref) : MethodNotAllowed();
      case Kind::kTags:
        return m == "GET" ? Tags(req, name) : MethodNotAllowed();
      case Kind::kReferrers:
        return m == "GET" ? Referrers(req, name, ref) : MethodNotAllowed();
      default:
        return RegistryError(404, "NAME_UNKNOWN", "no such registry path");
    }
  }

  static std::string Bounded(const std::string& s) { return s.substr(0, 300); }

  static Response MethodNotAllowed() {
    return RegistryError(405, "UNSUPPORTED", "the operation is unsupported");
  }

  // --- Authentication and authorisation

  std::string Realm(const Request& req) const {
    std::string base = r_.options_.external_url;
    if (base.empty()) {
      std::string host = req.Header("Host");
      if (host.empty() || host.find_first_of("\"\\ \r\n") != std::string::npos) {
        host = "localhost";
      }
      base = (r_.options_.tls ? "https://" : "http://") + host;
    }
    while (base.ends_with('/')) {
      base.pop_back();
    }
    return base + "/v2/token";
  }

  Response Challenge(const Request& req, const std::string& scope, const std::string& error,
                     std::string_view code, const std::string& message) const {
    Response r = RegistryError(401, code, message);
    std::string value = "Bearer realm=\"" + Realm(req) + R"(",service="berthd")";
    if (!scope.empty()) {
      value += ",scope=\"" + scope + "\"";
    }
    if (!error.empty()) {
      value += ",error=\"" + error + "\"";
    }
    AddHeader(r, "WWW-Authenticate", value);
    return r;
  }

  // The registry token the request carries, as "Bearer <token>" or as the password of basic
  // auth (so a registry token works where clients only take a user and password: docker login,
  // skopeo --creds x-token:<token>); "" when it carries none (a berthd token, or nothing).
  static std::string RegistryTokenOf(const Request& req) {
    std::string header = req.Header("Authorization");
    std::string value;
    if (EqualsIgnoreCase(header.substr(0, 7), "Bearer ")) {
      value = std::string(Trim(header.substr(7)));
    } else if (EqualsIgnoreCase(header.substr(0, 6), "Basic ")) {
      Result<std::string> decoded = registry::Base64Decode(Trim(header.substr(6)));
      if (decoded.ok()) {
        value = SplitOnce(*decoded, ':').second;
      }
    }
    // A JWT holds two dots. (berthd's generated secrets hold none; an imported one might, so a
    // value that does not verify is still tried as a berthd token.)
    return std::count(value.begin(), value.end(), '.') == 2 ? value : std::string();
  }

  // The claims of the registry token the request carries, when it verifies and the berthd token
  // it came from is still live; nullopt otherwise.
  std::optional<TokenClaims> VerifiedRegistryToken(const Context& ctx, const Request& req) {
    std::string jwt = RegistryTokenOf(req);
    if (jwt.empty()) {
      return std::nullopt;
    }
    Result<TokenClaims> claims = r_.signer_.Verify(jwt, NowSeconds());
    if (!claims.ok() || !TokenStillLive(ctx, claims->token_id)) {
      return std::nullopt;
    }
    return *claims;
  }

  // Whether the berthd token a registry token was made from is still good.
  bool TokenStillLive(const Context& ctx, const std::string& token_id) {
    Result<metastore::Token> t = r_.metadata_.GetToken(ctx, token_id);
    if (!t.ok() || t->revoked) {
      return false;
    }
    return !t->expires_at || *t->expires_at > std::chrono::system_clock::now();
  }

  // May the caller pull (and, with `push`, push) in repository `name`?
  Access Authorize(const Context& ctx, const Request& req, const std::string& name, bool push) {
    Access a;
    std::string scope = "repository:" + name + (push ? ":pull,push" : ":pull");
    std::string header = req.Header("Authorization");
    if (header.empty()) {
      a.denied = Challenge(req, scope, "", "UNAUTHORIZED", "authentication required");
      return a;
    }
    std::string project = ProjectOf(name);
    if (std::optional<TokenClaims> claims = VerifiedRegistryToken(ctx, req)) {
      for (const ProjectAccess& p : claims->access) {
        if (p.project_id != project) {
          continue;
        }
        if (push && !p.push && p.pull) {
          a.denied = RegistryError(403, "DENIED", "requested access to the resource is denied");
          return a;
        }
        if ((push && p.push) || (!push && p.pull)) {
          a.ok = true;
          a.token_id = claims->token_id;
          return a;
        }
      }
      a.denied = Challenge(req, scope, "insufficient_scope", "UNAUTHORIZED",
                           "the token does not grant this access");
      return a;
    }
    Result<service::Principal> who = service::Authenticate(ctx, r_.metadata_, req);
    if (!who.ok()) {
      if (who.error().code() != ErrorCode::kUnauthenticated) {
        a.denied = InternalError(who.error());
        return a;
      }
      if (!RegistryTokenOf(req).empty()) {
        a.denied = Challenge(req, scope, "invalid_token", "UNAUTHORIZED",
                             "the registry token is not valid (expired or revoked)");
        return a;
      }
      a.denied = Challenge(req, scope, "", "UNAUTHORIZED", who.error().message());
      return a;
    }
    Result<metastore::Project> p = service::AuthorizeProject(ctx, r_.metadata_, *who, project);
    if (!p.ok()) {
      a.denied = p.error().code() == ErrorCode::kNotFound
                     ? RegistryError(404, "NAME_UNKNOWN", "repository name not known to registry",
                                     {{"name", name}})
                     : InternalError(p.error());
      return a;
    }
    a.ok = true;
    a.token_id = who->token.id;
    return a;
  }

  Response Base(const Request& req) {
    Context ctx = Context::Background();
    bool ok = VerifiedRegistryToken(ctx, req).has_value() ||
              (!req.Header("Authorization").empty() &&
               service::Authenticate(ctx, r_.metadata_, req).ok());
    if (!ok) {
      return Challenge(req, "", "", "UNAUTHORIZED", "authentication required");
    }
    return Response::Json(200, "{}");
  }

  // GET /v2/token: basic auth with a berthd token grants what that token may do, per project;
  // with a registry token (a pull token handed to docker login), at most what it grants, for
  // no longer than it lives.
  Response Token(const Request& req) {
    Context ctx = Context::Background();
    std::optional<TokenClaims> parent = VerifiedRegistryToken(ctx, req);
    Result<service::Principal> who = Error::Unauthenticated("no credentials");
    if (!parent) {
      who = service::Authenticate(ctx, r_.metadata_, req);
    }
    if (!parent && !who.ok()) {
      Response r = RegistryError(401, "UNAUTHORIZED",
                                 "log in with user x-token and a berthd token as the password");
      AddHeader(r, "WWW-Authenticate", "Basic realm=\"berthd\"");
      return r;
    }
    // Clients ask for several scopes at once (a push that mounts from another repository):
    // repeated scope parameters, or several in one separated by spaces.
    std::string scope_text;
    for (const auto& [key, value] : req.query_all) {
      if (key == "scope") {
        scope_text += (scope_text.empty() ? "" : " ") + value;
      }
    }
    Result<std::vector<Scope>> scopes = ParseScopes(scope_text);
    if (!scopes.ok()) {
      return RegistryError(400, "UNSUPPORTED", scopes.error().message());
    }
    TokenClaims claims;
    claims.token_id = parent ? parent->token_id : who->token.id;
    claims.issued_at = NowSeconds();
    claims.expires_at = claims.issued_at + r_.options_.token_ttl.count();
    if (parent) {
      claims.expires_at = std::min(claims.expires_at, parent->expires_at);
    }
    for (const Scope& s : *scopes) {
      if (s.type != "repository" || !IsValidName(s.name)) {
        continue;  // Nothing granted: the registry will say no.
      }
      std::string project = ProjectOf(s.name);
      // What the credential allows in this project.
      ProjectAccess allowed{.project_id = project};
      if (parent) {
        for (const ProjectAccess& a : parent->access) {
          if (a.project_id == project) {
            allowed = a;
          }
        }
      } else if (service::AuthorizeProject(ctx, r_.metadata_, *who, project).ok()) {
        allowed.pull = allowed.push = true;
      }
      ProjectAccess* access = nullptr;
      for (ProjectAccess& a : claims.access) {
        access = a.project_id == project ? &a : access;
      }
      for (const std::string& action : s.actions) {
        bool pull = allowed.pull && (action == "pull" || action == "*");
        bool push = allowed.push && (action == "push" || action == "*");
        if (!pull && !push) {
          continue;
        }
        if (access == nullptr) {
          claims.access.push_back({.project_id = project});
          access = &claims.access.back();
        }
        access->pull = access->pull || pull;
        access->push = access->push || push;
      }
    }
    std::string token = r_.signer_.Sign(claims);
    char issued[32];
    auto t = static_cast<time_t>(claims.issued_at);
    struct tm tm_utc {};
    gmtime_r(&t, &tm_utc);
    (void)strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
    json body = {{"token", token},
                 {"access_token", token},
                 {"expires_in", claims.expires_at - claims.issued_at},
                 {"issued_at", issued}};
    return Response::Json(200, body.dump());
  }

  // GET /v2/_catalog: the repositories of every project the caller may pull from, in byte
  // order, in pages of `n` after `last` as tags are.
  Response Catalog(const Request& req) {
    Context ctx = Context::Background();
    std::vector<std::string> projects;
    if (std::optional<TokenClaims> claims = VerifiedRegistryToken(ctx, req)) {
      for (const ProjectAccess& a : claims->access) {
        if (a.pull) {
          projects.push_back(a.project_id);
        }
      }
    } else {
      Result<service::Principal> who = Error::Unauthenticated("no credentials");
      if (!req.Header("Authorization").empty()) {
        who = service::Authenticate(ctx, r_.metadata_, req);
      }
      if (!who.ok()) {
        if (who.error().code() != ErrorCode::kUnauthenticated) {
          return InternalError(who.error());
        }
        return Challenge(req, "registry:catalog:*", "", "UNAUTHORIZED", "authentication required");
      }
      if (who->token.kind == metastore::TokenKind::kProject) {
        projects.push_back(who->token.project_id);
      } else {
        Result<std::vector<metastore::Organization>> orgs = r_.metadata_.ListOrganizations(ctx);
        if (!orgs.ok()) {
          return InternalError(orgs.error());
        }
        for (const metastore::Organization& org : *orgs) {
          if (!service::CanUseOrganization(*who, org.id)) {
            continue;
          }
          Result<std::vector<metastore::Project>> list = r_.metadata_.ListProjects(ctx, org.id);
          if (!list.ok()) {
            return InternalError(list.error());
          }
          for (const metastore::Project& p : *list) {
            projects.push_back(p.id);
          }
        }
      }
    }
    int n = kDefaultTagPage;
    if (auto it = req.query.find("n"); it != req.query.end()) {
      std::optional<int> parsed = ParsePageSize(it->second);
      if (!parsed) {
        return RegistryError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results",
                             {{"n", it->second.substr(0, 50)}});
      }
      n = *parsed;
    }
    std::string last;
    if (auto it = req.query.find("last"); it != req.query.end()) {
      last = it->second;
    }
    std::vector<std::string> names;
    for (const std::string& project : projects) {
      Result<std::vector<std::string>> repos = r_.metadata_.ListRegistryRepositories(ctx, project);
      if (!repos.ok()) {
        if (repos.error().code() == ErrorCode::kNotFound) {
          continue;  // Deleted meanwhile.
        }
        return InternalError(repos.error());
      }
      for (std::string& name : *repos) {
        if (name > last) {
          names.push_back(std::move(name));
        }
      }
    }
    std::sort(names.begin(), names.end());
    Response out = Response::Json(200, "");
    if (names.size() > static_cast<size_t>(n)) {
      names.resize(static_cast<size_t>(n));
      if (n > 0) {
        AddHeader(
            out, "Link",
            "</v2/_catalog?n=" + std::to_string(n) + "&last=" + names.back() + ">; rel=\"next\"");
      }
    }
    out.body = json{{"repositories", names}}.dump();
    return out;
  }

  // The `n` of a paged list: 0..kDefaultTagPage (larger is cut to it); nullopt if malformed.
  static std::optional<int> ParsePageSize(const std::string& text) {
    int n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n < 0) {
      return std::nullopt;
    }
    return std::min(n, kDefaultTagPage);
  }

  // --- Blobs

  Response GetBlob(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, false);
    if (!a.ok) {
      return a.denied;
    }
    Result<digest::Digest> d = ParseDigest(ref);
    if (!d.ok()) {
      return RegistryError(400, "DIGEST_INVALID", d.error().message());
    }
    Result<metastore::RegistryBlob> blob = r_.metadata_.GetRegistryBlob(ctx, name, ref);
    if (!blob.ok()) {
      return BlobUnknownOr(blob.error(), ref);
    }
    Result<std::unique_ptr<content::BlobReader>> reader = r_.content_.OpenReader(ctx, *d);
    if (!reader.ok()) {
      return BlobUnknownOr(reader.error(), ref);
    }
    uint64_t size = (*reader)->size();
    std::shared_ptr<content::BlobReader> shared = std::move(reader).value();
    Response out;
    out.content_type = "application/octet-stream";
    AddHeader(out, "Docker-Content-Digest", ref);
    AddHeader(out, "Accept-Ranges", "bytes");
    uint64_t first = 0;
    uint64_t last = size == 0 ? 0 : size - 1;
    std::string range_header = req.Header("Range");
    if (!range_header.empty()) {
      Result<ByteRange> range = ParseRangeHeader(range_header, size);
      if (!range.ok()) {
        Response r = RegistryError(416, "RANGE_INVALID", range.error().message());
        AddHeader(r, "Content-Range", "bytes */" + std::to_string(size));
        return r;
      }
      first = range->first;
      last = range->last;
      out.status = 206;
      AddHeader(out, "Content-Range",
                "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                    std::to_string(size));
    } else if (size == 0) {
      return out;
    } else {
      out.stream_length = size;
    }
    if (req.method == "HEAD") {
      // HEAD: the headers only; Content-Length comes from stream_length when known.
      if (!out.stream_length) {
        out.body.clear();
      }
      out.stream = [](Writer&) {
      };
      return out;
    }
    out.stream = [shared, first, last](Writer& w) {
      std::string buf(kCopyBuffer, '\0');
      uint64_t at = first;
      while (at <= last) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), last - at + 1));
        Result<size_t> n = shared->ReadAt(buf.data(), want, at);
        if (!n.ok() || *n == 0 || !w.Write(std::string_view(buf.data(), *n)).ok()) {
          return;
        }
        at += *n;
      }
    };
    return out;
  }

  static Response BlobUnknownOr(const Error& error, const std::string& digest) {
    if (error.code() == ErrorCode::kNotFound) {
      return RegistryError(404, "BLOB_UNKNOWN", "blob unknown to registry", {{"digest", digest}});
    }
    return InternalError(error);
  }

  Response DeleteBlob(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    if (Result<digest::Digest> d = ParseDigest(ref); !d.ok()) {
      return RegistryError(400, "DIGEST_INVALID", d.error().message());
    }
    Result<> deleted = r_.metadata_.DeleteRegistryBlob(ctx, name, ref);
    if (!deleted.ok()) {
      return BlobUnknownOr(deleted.error(), ref);
    }
    return Empty(202);
  }

  // Links a committed blob into `name` and keeps it in the registry's lease. The lease first,
  // then the check that the blob is there: a GC in between cannot take it (lease.h).
  Result<> LinkBlob(const Context& ctx, const std::string& name, const digest::Digest& d) {
    BERTH_TRY(r_.content_.leases().AddResource(ctx, r_.options_.lease, d));
    content::Info info = BERTH_TRY(r_.content_.Info(ctx, d));
    return r_.metadata_.PutRegistryBlob(
        ctx, ProjectOf(name),
        {.repository = name, .digest = d.ToString(), .size = static_cast<int64_t>(info.size)});
  }

  static Response BlobCreated(const std::string& name, const std::string& digest) {
    Response r = Empty(201);
    AddHeader(r, "Location", "/v2/" + name + "/blobs/" + digest);
    AddHeader(r, "Docker-Content-Digest", digest);
    return r;
  }

  static std::string UploadPath(const std::string& name, const std::string& id) {
    return "/v2/" + name + "/blobs/uploads/" + id;
  }

  static Response UploadAnswer(int status, const std::string& name, const std::string& id,
                               uint64_t offset) {
    Response r = Empty(status);
    AddHeader(r, "Location", UploadPath(name, id));
    AddHeader(r, "Docker-Upload-UUID", id);
    AddHeader(r, "Range", "0-" + std::to_string(offset == 0 ? 0 : offset - 1));
    return r;
  }

  std::string RecordPath(const std::string& id) const {
    return r_.options_.root + "/registry/uploads/" + id;
  }

  // The repository an upload session belongs to; NotFound when there is no such session.
  Result<std::string> SessionRepository(const std::string& id) {
    if (!IsUploadId(id)) {
      return Error::NotFound("no such upload");
    }
    Result<std::string> record = os::ReadFile(RecordPath(id));
    if (!record.ok()) {
      return Error::NotFound("no such upload");
    }
    return *record;
  }

  static Response UploadUnknown() {
    return RegistryError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
  }

  // Writes the request body into `writer`, checking a Content-Range against its offset first.
  // Returns an error response, or nullopt when the body went in whole.
  std::optional<Response> WriteBody(const Request& req, content::Writer& writer) {
    std::string content_range = req.Header("Content-Range");
    std::optional<uint64_t> want_bytes;
    if (!content_range.empty()) {
      Result<ByteRange> range = ParseContentRange(content_range);
      if (!range.ok() || range->first != writer.offset()) {
        Response r = RegistryError(416, "RANGE_INVALID",
                                   range.ok() ? "the chunk does not start where the upload ends"
                                              : range.error().message());
        AddHeader(r, "Range",
                  "0-" + std::to_string(writer.offset() == 0 ? 0 : writer.offset() - 1));
        return r;
      }
      want_bytes = range->last - range->first + 1;
      // Refused before a byte is written, so the session stays as the client knows it.
      std::string length = req.Header("Content-Length");
      if (!length.empty() && length != std::to_string(*want_bytes)) {
        return RegistryError(400, "SIZE_INVALID",
                             "Content-Range announces " + std::to_string(*want_bytes) +
                                 " bytes, Content-Length " + length.substr(0, 30));
      }
    }
    uint64_t before = writer.offset();
    BodyToWriter sink{writer};
    bool complete = req.read_body([&](std::string_view data) { return sink(data); });
    if (sink.failed) {
      return InternalError(sink.error);
    }
    if (!complete) {
      return RegistryError(400, "BLOB_UPLOAD_INVALID", "the request body was cut short");
    }
    if (want_bytes && writer.offset() - before != *want_bytes) {
      return RegistryError(400, "SIZE_INVALID",
                           "Content-Range announced " + std::to_string(*want_bytes) +
                               " bytes, the body held " + std::to_string(writer.offset() - before));
    }
    return std::nullopt;
  }

  Response StartUpload(const Request& req, const std::string& name) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    MaybeClean(ctx);
    auto mount = req.query.find("mount");
    auto from = req.query.find("from");
    if (mount != req.query.end() && from != req.query.end()) {
      if (std::optional<Response> mounted = TryMount(ctx, req, name, mount->second, from->second)) {
        return *mounted;
      }
    }
    std::string id = RandomHex(kUploadIdChars);
    if (id.empty()) {
      return InternalError(Error::Internal("no random bytes for an upload id"));
    }
    std::string ref = std::string(kUploadRefPrefix) + id;
    auto digest_param = req.query.find("digest");
    if (digest_param != req.query.end()) {
      // Monolithic upload: the whole blob in this request.
      Result<digest::Digest> d = ParseDigest(digest_param->second);
      if (!d.ok()) {
        return RegistryError(400, "DIGEST_INVALID", d.error().message());
      }
      Result<std::unique_ptr<content::Writer>> writer =
          r_.content_.OpenWriter(ctx, {.ref = ref, .lease = r_.options_.lease});
      if (!writer.ok()) {
        return InternalError(writer.error());
      }
      if (std::optional<Response> failed = WriteBody(req, **writer)) {
        writer->reset();  // Releases the ref, so that Abort may discard what was written.
        (void)r_.content_.Abort(ctx, ref);
        return *failed;
      }
      return Finish(ctx, name, "", **writer, *d);
    }
    if (Result<> saved = os::WriteFileAtomic(RecordPath(id), name, 0600); !saved.ok()) {
      return InternalError(saved.error());
    }
    // Create the ingest now, so that its status reads 0 and clean-up sees it.
    Result<std::unique_ptr<content::Writer>> writer = r_.content_.OpenWriter(ctx, {.ref = ref});
    if (!writer.ok()) {
      return InternalError(writer.error());
    }
    (void)(*writer)->Close();
    return UploadAnswer(202, name, id, 0);
  }

  // A cross-repository mount: 201 when `from` holds the blob and the caller may read it there;
  // nullopt to fall back to a normal upload session (as the spec says).
  std::optional<Response> TryMount(const Context& ctx, const Request& req, const std::string& name,
                                   const std::string& mount, const std::string& from) {
    Result<digest::Digest> d = ParseDigest(mount);
    if (!d.ok() || !IsValidName(from)) {
      return std::nullopt;
    }
    if (!Authorize(ctx, req, from, false).ok) {
      return std::nullopt;
    }
    if (!r_.metadata_.GetRegistryBlob(ctx, from, mount).ok()) {
      return std::nullopt;
    }
    Result<> linked = LinkBlob(ctx, name, *d);
    if (!linked.ok()) {
      if (linked.error().code() == ErrorCode::kNotFound) {
        return std::nullopt;  // Linked in `from` but gone from the store.
      }
      return InternalError(linked.error());
    }
    return BlobCreated(name, mount);
  }

  // Commits `writer` as `expected`, links the blob, removes the session record `id`.
  Response Finish(const Context& ctx, const std::string& name, const std::string& id,
                  content::Writer& writer, const digest::Digest& expected) {
    Result<> committed = writer.Commit(ctx, std::nullopt, expected);
    if (!id.empty() && (committed.ok() || committed.error().code() == ErrorCode::kAlreadyExists ||
                        committed.error().code() == ErrorCode::kInvalidArgument)) {
      ::unlink(RecordPath(id).c_str());
    }
    if (!committed.ok() && committed.error().code() != ErrorCode::kAlreadyExists) {
      if (committed.error().code() == ErrorCode::kInvalidArgument) {
        return RegistryError(400, "DIGEST_INVALID",
                             "provided digest did not match uploaded content",
                             {{"digest", expected.ToString()}});
      }
      return InternalError(committed.error());
    }
    Result<> linked = LinkBlob(ctx, name, expected);
    if (!linked.ok()) {
      return InternalError(linked.error());
    }
    return BlobCreated(name, expected.ToString());
  }

  // Opens the session's ingest for writing. An error response when the session is unknown or
  // another request is writing it.
  Result<std::unique_ptr<content::Writer>> OpenSession(const Context& ctx, const std::string& id,
                                                       bool with_lease) {
    content::WriterOptions options{.ref = std::string(kUploadRefPrefix) + id};
    if (with_lease) {
      options.lease = r_.options_.lease;
    }
    return r_.content_.OpenWriter(ctx, options);
  }

  Response SessionError(const Error& error) {
    if (error.code() == ErrorCode::kUnavailable) {
      return RegistryError(416, "RANGE_INVALID", "another request is writing this upload");
    }
    return InternalError(error);
  }

  Response PatchUpload(const Request& req, const std::string& name, const std::string& id) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    Result<std::string> repo = SessionRepository(id);
    if (!repo.ok() || *repo != name) {
      return UploadUnknown();
    }
    Result<std::unique_ptr<content::Writer>> writer = OpenSession(ctx, id, false);
    if (!writer.ok()) {
      return SessionError(writer.error());
    }
    std::optional<Response> failed = WriteBody(req, **writer);
    uint64_t offset = (*writer)->offset();
    Result<> closed = (*writer)->Close();
    if (failed) {
      return *failed;
    }
    if (!closed.ok()) {
      return InternalError(closed.error());
    }
    return UploadAnswer(202, name, id, offset);
  }

  Response PutUpload(const Request& req, const std::string& name, const std::string& id) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    Result<std::string> repo = SessionRepository(id);
    if (!repo.ok() || *repo != name) {
      return UploadUnknown();
    }
    auto digest_param = req.query.find("digest");
    if (digest_param == req.query.end()) {
      return RegistryError(400, "DIGEST_INVALID", "digest missing");
    }
    Result<digest::Digest> d = ParseDigest(digest_param->second);
    if (!d.ok()) {
      return RegistryError(400, "DIGEST_INVALID", d.error().message());
    }
    Result<std::unique_ptr<content::Writer>> writer = OpenSession(ctx, id, true);
    if (!writer.ok()) {
      return SessionError(writer.error());
    }
    if (std::optional<Response> failed = WriteBody(req, **writer)) {
      return *failed;
    }
    return Finish(ctx, name, id, **writer, *d);
  }

  Response UploadStatus(const Request& req, const std::string& name, const std::string& id) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    Result<std::string> repo = SessionRepository(id);
    if (!repo.ok() || *repo != name) {
      return UploadUnknown();
    }
    Result<std::vector<content::Status>> ingests = r_.content_.ListIngests(ctx);
    if (!ingests.ok()) {
      return InternalError(ingests.error());
    }
    std::string ref = std::string(kUploadRefPrefix) + id;
    for (const content::Status& s : *ingests) {
      if (s.ref == ref) {
        return UploadAnswer(204, name, id, s.offset);
      }
    }
    return UploadUnknown();
  }

  Response CancelUpload(const Request& req, const std::string& name, const std::string& id) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    Result<std::string> repo = SessionRepository(id);
    if (!repo.ok() || *repo != name) {
      return UploadUnknown();
    }
    Result<> aborted = r_.content_.Abort(ctx, std::string(kUploadRefPrefix) + id);
    if (!aborted.ok() && aborted.error().code() != ErrorCode::kNotFound) {
      return SessionError(aborted.error());
    }
    ::unlink(RecordPath(id).c_str());
    return Empty(204);
  }

  void MaybeClean(const Context& ctx) {
    int64_t now = NowSeconds();
    int64_t last = r_.last_clean_.load();
    if (now - last < std::chrono::seconds(kCleanEvery).count() ||
        !r_.last_clean_.compare_exchange_strong(last, now)) {
      return;
    }
    if (Result<size_t> cleaned = r_.CleanUploads(ctx); !cleaned.ok()) {
      log::Warn("registry: cleaning uploads: " + cleaned.error().ToString());
    }
  }

  // --- Manifests

  Response ManifestUnknown(const Error& error) {
    if (error.code() == ErrorCode::kNotFound) {
      return RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown");
    }
    return InternalError(error);
  }

  // The manifest record `ref` (a tag or a digest) names in `name`.
  Result<metastore::RegistryManifest> Lookup(const Context& ctx, const std::string& name,
                                             const std::string& ref) {
    if (ref.find(':') != std::string::npos) {
      return r_.metadata_.GetRegistryManifest(ctx, name, ref);
    }
    return r_.metadata_.ResolveRegistryTag(ctx, name, ref);
  }

  Response GetManifest(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, false);
    if (!a.ok) {
      return a.denied;
    }
    bool is_digest = ref.find(':') != std::string::npos;
    if (is_digest) {
      if (Result<digest::Digest> d = ParseDigest(ref); !d.ok()) {
        return RegistryError(400, "DIGEST_INVALID", d.error().message());
      }
    } else if (!IsValidTag(ref)) {
      return RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown");
    }
    Result<metastore::RegistryManifest> m = Lookup(ctx, name, ref);
    if (!m.ok()) {
      return ManifestUnknown(m.error());
    }
    Result<digest::Digest> d = ParseDigest(m->digest);
    if (!d.ok()) {
      return InternalError(d.error());
    }
    Result<std::string> bytes =
        content::ReadBlob(ctx, r_.content_, *d, r_.options_.max_manifest_bytes);
    if (!bytes.ok()) {
      return ManifestUnknown(bytes.error());
    }
    // Accept negotiation, for a tag (a digest names exactly what the client wants): a client
    // that does not take an index gets the linux/amd64 image of it (else the first it takes),
    // as the distribution server does for docker clients without manifest-list support; any
    // other type it does not take is unknown to it.
    std::string accept;  // Clients send one Accept header per type, or one list.
    for (const auto& [header, value] : req.headers) {
      if (header == "accept") {
        accept += value + ",";
      }
    }
    std::vector<std::string> accepted = AcceptedMediaTypes(accept);
    auto takes = [&](const std::string& type) {
      return accepted.empty() ||
             std::find(accepted.begin(), accepted.end(), type) != accepted.end();
    };
    if (!is_digest && !takes(m->media_type)) {
      std::optional<std::string> child;
      if (IsIndexType(m->media_type)) {
        child = AcceptedChild(*bytes, takes);
      }
      if (!child) {
        return RegistryError(
            404, "MANIFEST_UNKNOWN",
            "manifest of type " + m->media_type + " found, but the Accept header does not take it");
      }
      m = r_.metadata_.GetRegistryManifest(ctx, name, *child);
      if (!m.ok()) {
        return ManifestUnknown(m.error());
      }
      bytes = content::ReadBlob(ctx, r_.content_, ParseDigest(m->digest).value(),
                                r_.options_.max_manifest_bytes);
      if (!bytes.ok()) {
        return ManifestUnknown(bytes.error());
      }
    }
    Response out;
    out.content_type = m->media_type;
    out.body = std::move(bytes).value();
    AddHeader(out, "Docker-Content-Digest", m->digest);
    return out;
  }

  // The digest of the index's linux/amd64 image manifest whose type `takes`, else of the first
  // child it takes; nullopt when there is none.
  template <typename Takes>
  static std::optional<std::string> AcceptedChild(const std::string& index, const Takes& takes) {
    json j = json::parse(index, nullptr, false);
    if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
      return std::nullopt;
    }
    std::optional<std::string> first;
    for (const json& c : j["manifests"]) {
      if (!c.is_object() || !c.value("mediaType", json()).is_string() ||
          !c.value("digest", json()).is_string() || !takes(c["mediaType"].get<std::string>())) {
        continue;
      }
      std::string digest = c["digest"].get<std::string>();
      json platform = c.value("platform", json::object());
      if (platform.is_object() && platform.value("os", json()) == "linux" &&
          platform.value("architecture", json()) == "amd64") {
        return digest;
      }
      if (!first) {
        first = digest;
      }
    }
    return first;
  }

  // Reads a manifest body of at most max_manifest_bytes.
  Result<std::string> ReadManifestBody(const Request& req) const {
    std::string body;
    bool too_big = false;
    size_t max = r_.options_.max_manifest_bytes;
    bool complete = req.read_body([&](std::string_view data) {
      if (body.size() + data.size() > max) {
        too_big = true;
        return false;
      }
      body.append(data);
      return true;
    });
    if (too_big) {
      return Error::ResourceExhausted("manifest larger than " + std::to_string(max) + " bytes");
    }
    if (!complete) {
      return Error::InvalidArgument("the request body was cut short");
    }
    return body;
  }

  Response ManifestInvalid(const std::string& why) {
    return RegistryError(400, "MANIFEST_INVALID", "manifest invalid", {{"reason", why}});
  }

  Response PutManifest(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    bool by_digest = ref.find(':') != std::string::npos;
    std::optional<digest::Digest> ref_digest;
    if (by_digest) {
      Result<digest::Digest> d = ParseDigest(ref);
      if (!d.ok()) {
        return RegistryError(400, "DIGEST_INVALID", d.error().message());
      }
      ref_digest = *d;
    } else if (!IsValidTag(ref)) {
      return RegistryError(400, "TAG_INVALID", "manifest tag did not match URI",
                           {{"tag", ref.substr(0, 200)}});
    }
    Result<std::string> body = ReadManifestBody(req);
    if (!body.ok()) {
      if (body.error().code() == ErrorCode::kResourceExhausted) {
        return RegistryError(413, "SIZE_INVALID", body.error().message());
      }
      return ManifestInvalid(body.error().message());
    }
    std::string content_type = BareMediaType(req.Header("Content-Type"));
    Result<ParsedManifest> parsed = ParseManifest(*body, content_type);
    if (!parsed.ok()) {
      return ManifestInvalid(parsed.error().message());
    }
    digest::Digest computed = digest::FromBytes(*body);
    if (ref_digest && *ref_digest != computed) {
      return RegistryError(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
    }
    metastore::RegistryManifest record = RecordOf(name, computed, body->size(), *parsed);
    const std::vector<ManifestDescriptor>& blobs = parsed->blobs;
    const std::vector<ManifestDescriptor>& children = parsed->children;
    // Everything the manifest references must be in this repository already.
    for (const ManifestDescriptor& b : blobs) {
      if (b.external) {
        continue;
      }
      Result<metastore::RegistryBlob> got = r_.metadata_.GetRegistryBlob(ctx, name, b.digest);
      if (!got.ok()) {
        if (got.error().code() != ErrorCode::kNotFound) {
          return InternalError(got.error());
        }
        return RegistryError(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry",
                             {{"digest", b.digest}});
      }
      if (got->size != b.size) {
        return ManifestInvalid("descriptor size " + std::to_string(b.size) + " of " + b.digest +
                               " differs from the blob's " + std::to_string(got->size));
      }
    }
    for (const ManifestDescriptor& c : children) {
      Result<metastore::RegistryManifest> got =
          r_.metadata_.GetRegistryManifest(ctx, name, c.digest);
      if (!got.ok()) {
        if (got.error().code() != ErrorCode::kNotFound) {
          return InternalError(got.error());
        }
        return RegistryError(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry",
                             {{"digest", c.digest}});
      }
    }
    // The bytes first, then the record that makes them visible.
    Result<> stored = StoreManifestBytes(ctx, *body, computed);
    if (!stored.ok()) {
      return InternalError(stored.error());
    }
    Result<> put =
        r_.metadata_.PutRegistryManifest(ctx, ProjectOf(name), record, by_digest ? "" : ref);
    if (!put.ok()) {
      return InternalError(put.error());
    }
    Response out = Empty(201);
    AddHeader(out, "Location", "/v2/" + name + "/manifests/" + record.digest);
    AddHeader(out, "Docker-Content-Digest", record.digest);
    if (!record.subject.empty()) {
      AddHeader(out, "OCI-Subject", record.subject);
    }
    return out;
  }

  Result<> StoreManifestBytes(const Context& ctx, const std::string& body,
                              const digest::Digest& d) {
    StringReader src(body);
    BERTH_TRY(content::WriteBlob(ctx, r_.content_, src,
                                 {.ref = "registry-manifest-" + d.hex(),
                                  .expected = d,
                                  .expected_size = body.size(),
                                  .lease = r_.options_.lease}));
    return {};
  }

  Response DeleteManifest(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, true);
    if (!a.ok) {
      return a.denied;
    }
    Result<> deleted = Error::NotFound("");
    if (ref.find(':') != std::string::npos) {
      if (Result<digest::Digest> d = ParseDigest(ref); !d.ok()) {
        return RegistryError(400, "DIGEST_INVALID", d.error().message());
      }
      deleted = r_.metadata_.DeleteRegistryManifest(ctx, name, ref);
    } else if (IsValidTag(ref)) {
      deleted = r_.metadata_.DeleteRegistryTag(ctx, name, ref);
    }
    if (!deleted.ok()) {
      return ManifestUnknown(deleted.error());
    }
    return Empty(202);
  }

  // --- Tags and referrers

  Response Tags(const Request& req, const std::string& name) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, false);
    if (!a.ok) {
      return a.denied;
    }
    int n = kDefaultTagPage;
    if (auto it = req.query.find("n"); it != req.query.end()) {
      std::optional<int> parsed = ParsePageSize(it->second);
      if (!parsed) {
        return RegistryError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results",
                             {{"n", it->second.substr(0, 50)}});
      }
      n = *parsed;
    }
    std::string last;
    if (auto it = req.query.find("last"); it != req.query.end()) {
      last = it->second;
    }
    Result<bool> exists = r_.metadata_.RegistryRepositoryExists(ctx, name);
    if (!exists.ok()) {
      return InternalError(exists.error());
    }
    if (!*exists) {
      return RegistryError(404, "NAME_UNKNOWN", "repository name not known to registry",
                           {{"name", name}});
    }
    std::vector<std::string> tags;
    if (n > 0) {
      Result<std::vector<std::string>> got = r_.metadata_.ListRegistryTags(ctx, name, last, n + 1);
      if (!got.ok()) {
        return InternalError(got.error());
      }
      tags = std::move(got).value();
    }
    Response out = Response::Json(200, "");
    if (tags.size() > static_cast<size_t>(n)) {
      tags.resize(static_cast<size_t>(n));
      std::string next =
          "/v2/" + name + "/tags/list?n=" + std::to_string(n) + "&last=" + tags.back();
      AddHeader(out, "Link", "<" + next + ">; rel=\"next\"");
    }
    out.body = json{{"name", name}, {"tags", tags}}.dump();
    return out;
  }

  Response Referrers(const Request& req, const std::string& name, const std::string& ref) {
    Context ctx = Context::Background();
    Access a = Authorize(ctx, req, name, false);
    if (!a.ok) {
      return a.denied;
    }
    if (Result<digest::Digest> d = ParseDigest(ref); !d.ok()) {
      return RegistryError(400, "DIGEST_INVALID", d.error().message());
    }
    Result<std::vector<metastore::RegistryManifest>> refs =
        r_.metadata_.ListRegistryReferrers(ctx, name, ref);
    if (!refs.ok()) {
      return InternalError(refs.error());
    }
    std::string filter;
    if (auto it = req.query.find("artifactType"); it != req.query.end()) {
      filter = it->second;
    }
    json manifests = json::array();
    for (const metastore::RegistryManifest& m : *refs) {
      if (!filter.empty() && m.artifact_type != filter) {
        continue;
      }
      json d = {{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.size}};
      if (!m.artifact_type.empty()) {
        d["artifactType"] = m.artifact_type;
      }
      json annotations = json::parse(m.annotations_json, nullptr, false);
      if (annotations.is_object() && !annotations.empty()) {
        d["annotations"] = annotations;
      }
      manifests.push_back(std::move(d));
    }
    json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}};
    Response out = Response::Json(200, index.dump(-1, ' ', false, json::error_handler_t::replace));
    out.content_type = std::string(kOciIndex);
    if (!filter.empty()) {
      AddHeader(out, "OCI-Filters-Applied", "artifactType");
    }
    return out;
  }

  Registry& r_;
};

Registry::Registry(metastore::Store& metadata, content::Store& content, Options options,
                   TokenSigner signer)
    : metadata_(metadata),
      content_(content),
      options_(std::move(options)),
      signer_(std::move(signer)),
      handlers_(std::make_unique<Handlers>(*this)) {}

Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Create(metastore::Store& metadata,
                                                   content::Store& content, Options options) {
  if (options.root.empty()) {
    return Error::InvalidArgument("registry: no root directory");
  }
  BERTH_TRY(os::MakeDirs(options.root + "/registry/uploads", 0700));
  TokenSigner signer = BERTH_TRY_CONTEXT(
      TokenSigner::LoadOrCreate(options.root + "/registry/token.key"), "registry token secret");
  Context ctx = Context::Background();
  Result<content::Lease> lease = content.leases().Create(ctx, {.id = options.lease});
  if (!lease.ok() && lease.error().code() != ErrorCode::kAlreadyExists) {
    Error error = lease.error();
    error.AddContext("registry lease " + options.lease);
    return error;
  }
  std::unique_ptr<Registry> registry(
      new Registry(metadata, content, std::move(options), std::move(signer)));
  BERTH_TRY_CONTEXT(registry->CleanUploads(ctx), "cleaning stale registry uploads");
  registry->last_clean_ = NowSeconds();
  return registry;
}

void Registry::Register(httpserver::Server& server) {
  Handlers* h = handlers_.get();
  auto handler = [h](const Request& req) {
    return h->Handle(req);
  };
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    server.Route(method, "/v2", handler, /*stream_body=*/true);
    server.Route(method, "/v2/*rest", handler, /*stream_body=*/true);
  }
}

Result<size_t> Registry::CleanUploads(const Context& ctx) {
  std::string dir = options_.root + "/registry/uploads";
  auto cutoff = std::chrono::system_clock::now() - options_.upload_max_age;
  std::map<std::string, content::Time> ingests;  // upload id -> last write
  for (const content::Status& s : BERTH_TRY(content_.ListIngests(ctx))) {
    if (s.ref.starts_with(kUploadRefPrefix)) {
      ingests[s.ref.substr(kUploadRefPrefix.size())] = s.updated_at;
    }
  }
  size_t removed = 0;
  // Sessions with a record: stale when neither the record nor the ingest changed lately.
  std::vector<std::string> ids;
  if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
    // readdir(3) on a DIR* only this function uses is safe.
    while (struct dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
      std::string id = e->d_name;
      if (IsUploadId(id)) {
        ids.push_back(id);
      }
    }
    ::closedir(d);
  }
  for (const std::string& id : ids) {
    struct stat st {};
    std::string record = dir;
    record += "/" + id;
    if (::stat(record.c_str(), &st) != 0) {
      continue;
    }
    auto record_time = std::chrono::system_clock::from_time_t(st.st_mtime);
    auto it = ingests.find(id);
    bool recent = record_time > cutoff || (it != ingests.end() && it->second > cutoff);
    if (recent) {
      ingests.erase(id);
      continue;
    }
    if (it != ingests.end()) {
      Result<> aborted = content_.Abort(ctx, std::string(kUploadRefPrefix) + id);
      ingests.erase(it);
      if (!aborted.ok() && aborted.error().code() != ErrorCode::kNotFound) {
        continue;  // Busy (a request is writing it): not stale after all.
      }
    }
    ::unlink(record.c_str());
    ++removed;
  }
  // Ingests whose record is gone (a crash between the two): stale ones go.
  for (const auto& [id, updated] : ingests) {
    if (updated <= cutoff && content_.Abort(ctx, std::string(kUploadRefPrefix) + id).ok()) {
      ++removed;
    }
  }
  return removed;
}

Result<> Registry::Save(const Context& ctx, const std::string& project_id,
                        const std::string& repository, const std::string& manifest_digest,
                        const std::vector<std::string>& tags) {
  if (!IsValidName(repository) || ProjectOf(repository) != project_id) {
    return Error::InvalidArgument("repository " + repository + " is not one of project " +
                                  project_id + "'s");
  }
  for (const std::string& tag : tags) {
    if (!IsValidTag(tag)) {
      return Error::InvalidArgument("tag \"" + tag.substr(0, 200) +
                                    "\": want [A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
    }
  }
  digest::Digest d = BERTH_TRY(ParseDigest(manifest_digest));
  BERTH_TRY(SaveManifest(ctx, project_id, repository, d, 0));
  metastore::RegistryManifest record =
      BERTH_TRY(metadata_.GetRegistryManifest(ctx, repository, d.ToString()));
  for (const std::string& tag : tags) {
    BERTH_TRY(metadata_.PutRegistryManifest(ctx, project_id, record, tag));
  }
  return {};
}

Result<> Registry::SaveManifest(const Context& ctx, const std::string& project_id,
                                const std::string& repository, const digest::Digest& d, int depth) {
  constexpr int kMaxDepth = 4;
  if (depth > kMaxDepth) {
    return Error::InvalidArgument("manifest " + d.ToString() + ": indexes nested too deep");
  }
  // The lease first, then the read: a GC in between cannot take the manifest.
  BERTH_TRY(content_.leases().AddResource(ctx, options_.lease, d));
  Result<std::string> read = content::ReadBlob(ctx, content_, d, options_.max_manifest_bytes);
  if (!read.ok()) {
    if (read.error().code() == ErrorCode::kNotFound) {
      return Error::FailedPrecondition("manifest " + d.ToString() + " is not in the store");
    }
    return read.error();
  }
  const std::string& body = *read;
  ParsedManifest parsed = BERTH_TRY_CONTEXT(ParseManifest(body, ""), "manifest " + d.ToString());
  for (const ManifestDescriptor& child : parsed.children) {
    BERTH_TRY(SaveManifest(ctx, project_id, repository,
                           BERTH_TRY(digest::Digest::Parse(child.digest)), depth + 1));
  }
  for (const ManifestDescriptor& blob : parsed.blobs) {
    if (blob.external) {
      continue;
    }
    digest::Digest b = BERTH_TRY(digest::Digest::Parse(blob.digest));
    BERTH_TRY(content_.leases().AddResource(ctx, options_.lease, b));
    Result<content::Info> info = content_.Info(ctx, b);
    if (!info.ok()) {
      if (info.error().code() == ErrorCode::kNotFound) {
        return Error::FailedPrecondition("blob " + blob.digest + " of manifest " + d.ToString() +
                                         " is not in the store");
      }
      return info.error();
    }
    BERTH_TRY(metadata_.PutRegistryBlob(ctx, project_id,
                                        {.repository = repository,
                                         .digest = blob.digest,
                                         .size = static_cast<int64_t>(info->size)}));
  }
  return metadata_.PutRegistryManifest(ctx, project_id,
                                       RecordOf(repository, d, body.size(), parsed), "");
}

}  // namespace berth::registryserver
