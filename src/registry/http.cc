#include "registry/http.h"

#include <array>
#include <mutex>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::registry {

// ---- HttpHeaders

std::string HttpHeaders::Get(std::string_view name) const {
  for (const auto& [k, v] : entries) {
    if (EqualsIgnoreCase(k, name)) {
      return v;
    }
  }
  return {};
}

std::vector<std::string> HttpHeaders::GetAll(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [k, v] : entries) {
    if (EqualsIgnoreCase(k, name)) {
      values.push_back(v);
    }
  }
  return values;
}

bool HttpHeaders::Has(std::string_view name) const {
  for (const auto& [k, v] : entries) {
    if (EqualsIgnoreCase(k, name)) {
      return true;
    }
  }
  return false;
}

// ---- HttpClient

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The state of one transfer, reached from curl's callbacks.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  const Context* ctx = nullptr;
  CURL* easy = nullptr;
  std::optional<Error> error;
  uint64_t skipped = 0;
};

long CurrentStatus(CURL* easy) {
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->response->headers.entries.clear();  // a new response (redirect, 100 Continue)
    return n;
  }
  bool found = false;
  auto [name, value] = SplitOnce(line, ':', &found);
  if (found) {
    t->response->headers.entries.emplace_back(ToLower(Trim(name)), std::string(Trim(value)));
  }
  return n;
}

size_t OnWrite(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  long status = CurrentStatus(t->easy);
  if (status >= 300 && status < 400) {
    return n;  // the body of a redirect that curl follows
  }
  std::string_view chunk(data, n);
  bool success = status >= 200 && status < 300;
  if (success && t->request->sink != nullptr) {
    if (status == 200 && t->skipped < t->request->resume_from) {
      uint64_t drop = std::min<uint64_t>(t->request->resume_from - t->skipped, chunk.size());
      t->skipped += drop;
      chunk.remove_prefix(drop);
    }
    if (!chunk.empty()) {
      Result<> r = t->request->sink->Write(chunk);
      if (!r.ok()) {
        t->error = std::move(r).error();
        return 0;
      }
      t->response->sink_bytes += chunk.size();
    }
    return n;
  }
  std::string& body = t->response->body;
  if (body.size() + chunk.size() > t->request->max_body) {
    if (success) {
      t->error = Error(ErrorCode::kResourceExhausted,
                       t->request->method + " " + t->request->url + ": response larger than " +
                           std::to_string(t->request->max_body) + " bytes");
      return 0;
    }
    chunk = chunk.substr(0, t->request->max_body - body.size());
  }
  body.append(chunk);
  return n;
}

size_t OnRead(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  Result<size_t> n = t->request->body_reader->Read(buffer, size * nitems);
  if (!n.ok()) {
    t->error = std::move(n).error();
    return CURL_READFUNC_ABORT;
  }
  return *n;
}

int OnProgress(void* userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(userdata);
  if (t->ctx->Done()) {
    return 1;
  }
  if (t->request->on_progress) {
    t->request->on_progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(ulnow));
  }
  return 0;
}

}  // namespace

struct HttpClient::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex pool_mu;
  std::vector<CURL*> idle;
};

namespace {
void LockShared(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).lock();
}
void UnlockShared(CURL* /*handle*/, curl_lock_data data, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).unlock();
}
}  // namespace

HttpClient::HttpClient() : HttpClient(Options()) {}

HttpClient::HttpClient(Options options)
    : options_(std::move(options)), shared_(std::make_unique<Shared>()) {
  GlobalInit();
  shared_->share = curl_share_init();
  curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, LockShared);
  curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, UnlockShared);
  curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, &shared_->locks);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

HttpClient::~HttpClient() {
  for (CURL* easy : shared_->idle) {
    curl_easy_cleanup(easy);
  }
  curl_share_cleanup(shared_->share);
}

void* HttpClient::AcquireHandle() {
  {
    std::lock_guard lock(shared_->pool_mu);
    if (!shared_->idle.empty()) {
      CURL* easy = shared_->idle.back();
      shared_->idle.pop_back();
      return easy;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReleaseHandle(void* handle) {
  CURL* easy = static_cast<CURL*>(handle);
  curl_easy_reset(easy);
  std::lock_guard lock(shared_->pool_mu);
  shared_->idle.push_back(easy);
}

Result<HttpResponse> HttpClient::Do(const Context& ctx, const HttpRequest& request) {
  BERTH_TRY(ctx.Check());
  CURL* easy = static_cast<CURL*>(AcquireHandle());
  if (easy == nullptr) {
    return Error::Internal("curl_easy_init failed");
  }
  HttpResponse response;
  Transfer t;
  t.request = &request;
  t.response = &response;
  t.ctx = &ctx;
  t.easy = easy;

  curl_slist* headers = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
    has_content_type = has_content_type || EqualsIgnoreCase(name, "content-type");
  }
  if (request.resume_from > 0) {
    headers = curl_slist_append(
        headers, ("Range: bytes=" + std::to_string(request.resume_from) + "-").c_str());
  }
  // No 100-continue round trip before uploads: registries answer at once.
  headers = curl_slist_append(headers, "Expect:");

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (request.skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);

  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.body_reader != nullptr) {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(easy, CURLOPT_READDATA, &t);
    if (request.body_size >= 0) {
      curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    }
    if (!has_content_type) {
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    if (!has_content_type) {
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    }
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(easy);
  response.status = CurrentStatus(easy);
  char* effective = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK &&
      effective != nullptr) {
    response.url = effective;
  } else {
    response.url = request.url;
  }
  curl_slist_free_all(headers);
  ReleaseHandle(easy);

  if (t.error.has_value()) {
    return std::move(*t.error);
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    BERTH_TRY(ctx.Check());
    return Error::Cancelled(request.method + " " + request.url + ": aborted");
  }
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    return Error::Unavailable(request.method + " " + request.url + ": " + detail);
  }
  return response;
}

// ---- helpers

std::string ResolveUrl(std::string_view base, std::string_view target) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    return std::string(target);
  }
  size_t scheme_end = base.find("://");
  size_t host_end = scheme_end == std::string_view::npos ? 0 : base.find('/', scheme_end + 3);
  std::string_view origin = host_end == std::string_view::npos ? base : base.substr(0, host_end);
  if (target.starts_with("/")) {
    return std::string(origin) + std::string(target);
  }
  std::string_view path = base.substr(origin.size());
  size_t query = path.find('?');
  if (query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  size_t last_slash = path.rfind('/');
  std::string dir =
      last_slash == std::string_view::npos ? "/" : std::string(path.substr(0, last_slash + 1));
  return std::string(origin) + dir + std::string(target);
}

std::optional<std::string> ParseLinkNext(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t open = header.find('<', pos);
    if (open == std::string_view::npos) {
      return std::nullopt;
    }
    size_t close = header.find('>', open);
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    std::string_view target = header.substr(open + 1, close - open - 1);
    // Parameters run to the next link ("," followed by "<") or the end.
    size_t next = header.find('<', close);
    std::string_view params = header.substr(
        close + 1, next == std::string_view::npos ? std::string_view::npos : next - close - 1);
    for (const std::string& param : StrSplit(params, ';')) {
      bool found = false;
      auto [key, value] = SplitOnce(Trim(param), '=', &found);
      if (!found || !EqualsIgnoreCase(Trim(key), "rel")) {
        continue;
      }
      std::string_view v = Trim(value);
      while (!v.empty() && (v.back() == ',' || v.back() == ' ')) {
        v.remove_suffix(1);
      }
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
      }
      for (const std::string& rel : StrSplit(v, ' ')) {
        if (EqualsIgnoreCase(rel, "next")) {
          return std::string(target);
        }
      }
    }
    if (next == std::string_view::npos) {
      break;
    }
    pos = next;
  }
  return std::nullopt;
}

std::string DecodeErrorBody(std::string_view body) {
  try {
    nlohmann::json doc = nlohmann::json::parse(body);
    auto errors = doc.find("errors");
    if (!doc.is_object() || errors == doc.end() || !errors->is_array()) {
      return {};
    }
    std::vector<std::string> parts;
    for (const auto& e : *errors) {
      if (!e.is_object()) {
        continue;
      }
      std::string code = e.value("code", std::string());
      std::string message = e.contains("message") && e["message"].is_string()
                                ? e["message"].get<std::string>()
                                : std::string();
      std::string part = code;
      if (!message.empty()) {
        part += (part.empty() ? "" : ": ") + message;
      }
      if (e.contains("detail") && !e["detail"].is_null()) {
        std::string detail =
            e["detail"].is_string() ? e["detail"].get<std::string>() : e["detail"].dump();
        if (!detail.empty() && detail.size() < 512) {
          part += " (" + detail + ")";
        }
      }
      if (!part.empty()) {
        parts.push_back(std::move(part));
      }
    }
    return StrJoin(parts, "; ");
  } catch (const nlohmann::json::exception&) {
    return {};
  }
}

std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace berth::registry
