// HTTP transport for the registry client: the one place that owns libcurl handles.
//
// HttpClient keeps a pool of curl easy handles and one curl share object, so DNS answers, TLS
// sessions and live connections are reused across requests and threads. Bodies stream: request
// bodies from a Reader, response bodies into a Writer, through curl's own buffers, so no blob is
// ever held whole in memory. Every transfer honours its Context (cancellation and deadline,
// checked from curl's progress callback) and stalls are cut off by a low-speed timeout.
//
// This layer knows nothing of registries: any status is a successful exchange here; the Client
// (client.h) turns statuses into errors, retries, and authenticates.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"

namespace berth::registry {

// Response headers in arrival order, names lower-cased (of the final response after
// redirects).
struct HttpHeaders {
  std::vector<std::pair<std::string, std::string>> entries;

  // The first value of `name` (any case), or "" when absent.
  std::string Get(std::string_view name) const;
  std::vector<std::string> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body: streamed from `body_reader` (borrowed) when set, `body_size` bytes (-1: unknown,
  // sent chunked); else `body` (sent for any method but GET and HEAD, even when empty).
  std::string body;
  Reader* body_reader = nullptr;
  int64_t body_size = -1;
  // Where a 2xx response body goes (borrowed); without one it is collected in
  // HttpResponse::body. Bodies of other statuses (error documents) are always collected.
  Writer* sink = nullptr;
  // Asks for the body from this offset on (Range: bytes=N-). When the server ignores the range
  // and answers 200 with the whole body, the first N bytes are dropped, so the sink receives
  // the bytes from N on either way.
  uint64_t resume_from = 0;
  // The most HttpResponse::body collects: a larger 2xx body fails with ResourceExhausted, a
  // larger error body is truncated.
  size_t max_body = size_t{4} << 20;
  bool skip_tls_verify = false;
  // Called now and then from the transfer's thread with the bytes received and sent so far.
  std::function<void(uint64_t received, uint64_t sent)> on_progress;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;
  std::string body;
  std::string url;          // the effective URL, after redirects
  uint64_t sink_bytes = 0;  // bytes written to the sink
};

class HttpClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{15000};
    // A transfer slower than 1 byte/s for this long is aborted (Unavailable).
    std::chrono::seconds stall_timeout{60};
    std::string user_agent = "berth/0.1";
  };

  HttpClient();
  explicit HttpClient(Options options);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // Performs one exchange (following redirects). Returns the response whatever its status.
  // Errors: Cancelled / DeadlineExceeded when `ctx` ends first; the sink's or body reader's own
  // error when one fails; ResourceExhausted for a collected 2xx body over max_body; Unavailable
  // naming the method and URL for transport failures (DNS, refused, reset, TLS, stall).
  // Thread-safe: any number of requests may run at once.
  Result<HttpResponse> Do(const Context& ctx, const HttpRequest& request);

 private:
  struct Shared;
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  Options options_;
  std::unique_ptr<Shared> shared_;
};

// Resolves a Location or Link target against the URL of the request it answered: absolute URLs
// stay, "/path" keeps the scheme and host of `base`, anything else is relative to base's path.
std::string ResolveUrl(std::string_view base, std::string_view target);

// The target of the rel="next" link in a Link header value (`<url>; rel="next"`, several links
// comma-separated), or nullopt when there is none.
std::optional<std::string> ParseLinkNext(std::string_view header);

// The message of an OCI error document `{"errors":[{"code":..,"message":..,"detail":..}]}`:
// "CODE: message" for each error, joined by "; ". "" when `body` is not such a document.
std::string DecodeErrorBody(std::string_view body);

// Percent-encodes `text` for a query parameter value.
std::string QueryEscape(std::string_view text);

}  // namespace berth::registry
