// httpserver: the HTTP server behind berthd's API (and later its registry and web UI).
//
// A small interface of our own over cpp-httplib (docs/decisions/0005-http-server.md), so that
// httplib.h is compiled in one translation unit and nothing above this component depends on it:
//   - routes are "METHOD /path/:param/*rest" patterns matched by our own router (segments,
//     named parameters, a trailing wildcard that takes the rest: registry names have slashes);
//   - a handler gets a Request and returns a Response; a Response may stream its body through a
//     callback (chunked transfer: build progress, blobs, archives);
//   - a route may take its request body as a stream (uploads) instead of a bounded string;
//   - plain HTTP or TLS (cert and key files), a fixed pool of worker threads, loopback by
//     default; Stop() waits for the listener to end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/result.h"

namespace berth::httpserver {

struct Request {
  std::string method;
  std::string path;                                            // decoded, without the query
  std::map<std::string, std::string> query;                    // first value of each key
  std::vector<std::pair<std::string, std::string>> query_all;  // every key=value, in order
  std::vector<std::pair<std::string, std::string>> headers;    // names lower-cased
  std::map<std::string, std::string> params;  // from the route pattern (":name", "*name")
  std::string remote_addr;
  // The body, for routes that do not stream it (bounded by Options::max_body).
  std::string body;
  // For streaming routes: reads the body, passing each chunk to `sink` (a false return stops).
  // Returns false when the client went away or the body was cut short.
  std::function<bool(const std::function<bool(std::string_view)>& sink)> read_body;

  // The first value of header `name` (any case), or "".
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed (chunked): `stream` writes to the Writer until it returns;
  // a write fails once the client has gone away (the producer should stop then).
  std::function<void(Writer&)> stream;
  // With `stream`: the body's exact length when known in advance. It is then sent with a
  // Content-Length instead of chunked (a HEAD request gets the header and `stream` is not
  // called); a producer that writes less makes the server drop the connection. Requests with a
  // Range header always get a chunked body: ranges are the handler's business (the HTTP
  // library's own range handling would slice the body a second time).
  std::optional<uint64_t> stream_length;

  static Response Json(int status, std::string body);
  // {"error":{"code":"not_found","message":...}} with the HTTP status of the error's code.
  static Response FromError(const Error& error);
};

using Handler = std::function<Response(const Request&)>;

// The HTTP status for an error code: NotFound 404, InvalidArgument 400, Unauthenticated 401,
// PermissionDenied 403, AlreadyExists 409, FailedPrecondition 412, ResourceExhausted 429,
// Unimplemented 501, Unavailable 503, Cancelled 499, DeadlineExceeded 504, others 500.
int HttpStatus(const Error& error);
// "not_found", "invalid_argument", ...
std::string ErrorCodeName(const Error& error);

class Server {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;          // 0: any free port (see port() after Start)
    std::string tls_cert;  // both set: HTTPS
    std::string tls_key;
    size_t threads = 16;
    size_t max_body = size_t{16} << 20;  // non-streaming request bodies
  };

  static Result<std::unique_ptr<Server>> Create(const Options& options);
  virtual ~Server() = default;

  // Registers `handler` for `method` and `pattern` ("/api/v1/projects/:id"). With
  // `stream_body`, the handler reads the request body itself through Request::read_body.
  // Routes are tried in registration order; an unmatched path is 404, an unmatched method 405.
  virtual void Route(const std::string& method, const std::string& pattern, Handler handler,
                     bool stream_body = false) = 0;

  // Binds and serves on background threads. Errors: the address cannot be bound, TLS files
  // cannot be read.
  virtual Result<> Start() = 0;
  virtual int port() const = 0;
  // Stops accepting, lets running handlers finish, and joins the threads. Idempotent.
  virtual void Stop() = 0;
};

// Matches `path` against `pattern`: literal segments, ":name" (one segment), and a final
// "*name" (one or more segments, joined by "/"). Returns the parameters, or false.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params);

}  // namespace berth::httpserver
