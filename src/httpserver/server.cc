#include "httpserver/server.h"

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <limits>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::httpserver {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

struct RouteEntry {
  std::string method;
  std::string pattern;
  Handler handler;
  bool stream_body = false;
};

// Writes a streamed response body into httplib's sink.
class SinkWriter final : public Writer {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
  Result<> Write(std::string_view data) override {
    if (data.empty()) {
      return {};
    }
    if (!sink_.is_writable() || !sink_.write(data.data(), data.size())) {
      return Error::Unavailable("the client went away");
    }
    return {};
  }
  Result<> Close() override { return {}; }

 private:
  httplib::DataSink& sink_;
};

class HttplibServer final : public Server {
 public:
  explicit HttplibServer(const Options& options) : options_(options) {}
  ~HttplibServer() override { Stop(); }

  void Route(const std::string& method, const std::string& pattern, Handler handler,
             bool stream_body) override {
    std::lock_guard lock(mu_);
    routes_.push_back({method, pattern, std::move(handler), stream_body});
  }

  Result<> Start() override {
    if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
      if (options_.tls_cert.empty() || options_.tls_key.empty()) {
        return Error::InvalidArgument("TLS needs both a certificate and a key file");
      }
      auto ssl =
          std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
      if (!ssl->is_valid()) {
        return Error::InvalidArgument("cannot load the TLS certificate " + options_.tls_cert +
                                      " or key " + options_.tls_key);
      }
      server_ = std::move(ssl);
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    size_t threads = options_.threads;
    server_->new_task_queue = [threads] {
      return new httplib::ThreadPool(threads);
    };
    server_->set_payload_max_length(std::numeric_limits<size_t>::max());
    server_->set_read_timeout(std::chrono::seconds(60));
    server_->set_write_timeout(std::chrono::seconds(60));
    server_->set_keep_alive_max_count(1000);
    // Idle kept-alive connections hold a worker and delay Stop() by up to this long.
    server_->set_keep_alive_timeout(2);
    auto with_reader = [this](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
      Dispatch(req, res, &reader);
    };
    auto without_reader = [this](const httplib::Request& req, httplib::Response& res) {
      Dispatch(req, res, nullptr);
    };
    const std::string any = "(.*)";
    server_->Get(any, without_reader);
    server_->Options(any, without_reader);
    server_->Post(any, with_reader);
    server_->Put(any, with_reader);
    server_->Patch(any, with_reader);
    server_->Delete(any, with_reader);
    server_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          Response r = Response::FromError(Error::Internal("internal error"));
          res.status = r.status;
          res.set_content(r.body, r.content_type);
        });
    int port = options_.port;
    if (port == 0) {
      port = server_->bind_to_any_port(options_.host);
      if (port < 0) {
        return Error::Unavailable("cannot bind " + options_.host);
      }
    } else if (!server_->bind_to_port(options_.host, port)) {
      return Error::Unavailable("cannot bind " + options_.host + ":" + std::to_string(port));
    }
    port_ = port;
    // Bound already: connections wait in the backlog until the listener runs.
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    return {};
  }

  int port() const override { return port_; }

  void Stop() override {
    if (server_ != nullptr && thread_.joinable()) {
      // stop() does nothing until the listener runs: wait for it (briefly) first, or a Stop
      // right after Start would leave the listener running and the join below hanging.
      for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      server_->stop();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  void Dispatch(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader* reader) {
    Request r;
    r.method = req.method;
    r.path = req.path;
    r.remote_addr = req.remote_addr;
    for (const auto& [k, v] : req.params) {
      r.query.emplace(k, v);
      r.query_all.emplace_back(k, v);
    }
    for (const auto& [k, v] : req.headers) {
      r.headers.emplace_back(ToLower(k), v);
    }
    const RouteEntry* route = nullptr;
    bool path_matched = false;
    {
      std::lock_guard lock(mu_);
      for (const RouteEntry& e : routes_) {
        std::map<std::string, std::string> params;
        std::string method = req.method == "HEAD" ? "GET" : req.method;
        if (!MatchPattern(e.pattern, r.path, &params)) {
          continue;
        }
        path_matched = true;
        if (e.method == req.method || e.method == method) {
          route = &e;
          r.params = std::move(params);
          if (e.method == req.method) {
            break;
          }
        }
      }
    }
    Response out;
    // Whether the request body was read to its end: if not (refused, or a streaming handler
    // that stopped early), the connection cannot carry another request and is closed.
    bool body_done = reader == nullptr;
    if (route == nullptr) {
      out = Response::FromError(path_matched ? Error::InvalidArgument("method not allowed")
                                             : Error::NotFound("no such path: " + r.path));
      if (path_matched) {
        out.status = 405;
      }
    } else {
      bool ok = true;
      body_done = reader == nullptr || !route->stream_body;
      if (reader != nullptr) {
        if (route->stream_body) {
          r.read_body = [reader, &body_done](const std::function<bool(std::string_view)>& sink) {
            bool complete = true;
            bool read = (*reader)([&](const char* data, size_t len) {
              complete = sink(std::string_view(data, len));
              return complete;
            });
            body_done = read && complete;
            return read && complete;
          };
        } else {
          size_t max = options_.max_body;
          bool too_big = false;
          ok = (*reader)([&](const char* data, size_t len) {
            if (r.body.size() + len > max) {
              too_big = true;
              return false;
            }
            r.body.append(data, len);
            return true;
          });
          if (too_big) {
            out = Response::FromError(Error::ResourceExhausted("request body larger than " +
                                                               std::to_string(max) + " bytes"));
            out.status = 413;
            ok = false;
          }
          body_done = ok;
        }
      } else {
        r.read_body = [](const std::function<bool(std::string_view)>&) {
          return true;
        };
      }
      if (ok) {
        out = route->handler(r);
      } else if (out.status == 200) {
        out = Response::FromError(Error::InvalidArgument("cannot read the request body"));
      }
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) {
      res.set_header(k, v);
    }
    if (!body_done) {
      res.set_header("Connection", "close");
    }
    // httplib slices a body of known length by the request's Range header itself (and answers
    // 416 for a range past its end); handlers do their own ranges, so with a Range header every
    // body goes out chunked, which httplib leaves alone.
    bool ranged = !req.ranges.empty();
    if (!out.stream && ranged && !out.body.empty()) {
      out.stream = [body = std::move(out.body)](Writer& w) {
        (void)w.Write(body);
      };
      out.body.clear();
    }
    if (out.stream && out.stream_length && *out.stream_length > 0 && !ranged) {
      auto stream = std::make_shared<std::function<void(Writer&)>>(std::move(out.stream));
      auto called = std::make_shared<bool>(false);
      res.set_content_provider(static_cast<size_t>(*out.stream_length), out.content_type,
                               [stream, called](size_t, size_t, httplib::DataSink& sink) {
                                 // A second call means the producer wrote less than it announced:
                                 // fail, and httplib drops the connection rather than send a short
                                 // body.
                                 if (*called) {
                                   return false;
                                 }
                                 *called = true;
                                 SinkWriter writer(sink);
                                 (*stream)(writer);
                                 return true;
                               });
    } else if (out.stream) {
      auto stream = std::make_shared<std::function<void(Writer&)>>(std::move(out.stream));
      res.set_chunked_content_provider(out.content_type, [stream](size_t, httplib::DataSink& sink) {
        SinkWriter writer(sink);
        (*stream)(writer);
        sink.done();
        return true;
      });
    } else if (!out.body.empty() || !out.content_type.empty()) {
      res.set_content(out.body, out.content_type);
    }
  }

  Options options_;
  std::mutex mu_;
  std::vector<RouteEntry> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const Options& options) {
  return std::unique_ptr<Server>(new HttplibServer(options));
}

std::string Request::Header(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) {
      return v;
    }
  }
  return "";
}

int HttpStatus(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kFailedPrecondition:
      return 412;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnimplemented:
      return 501;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kCancelled:
      return 499;
    case ErrorCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorCodeName(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnimplemented:
      return "unimplemented";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    default:
      return "internal";
  }
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::FromError(const Error& error) {
  // Internal errors keep their detail in the server log, not in the answer.
  std::string message = error.message();
  if (HttpStatus(error) == 500) {
    std::fprintf(stderr, "internal error: %s\n", error.ToString().c_str());
    message = "internal error";
  }
  nlohmann::json j = {{"error", {{"code", ErrorCodeName(error)}, {"message", message}}}};
  return Json(HttpStatus(error), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params) {
  std::vector<std::string_view> want = Segments(pattern);
  std::vector<std::string_view> got = Segments(path);
  std::map<std::string, std::string> found;
  size_t i = 0;
  for (; i < want.size(); ++i) {
    std::string_view w = want[i];
    if (w.starts_with('*')) {
      if (i != want.size() - 1 || i >= got.size()) {
        return false;
      }
      std::string rest;
      for (size_t j = i; j < got.size(); ++j) {
        rest += (rest.empty() ? "" : "/") + std::string(got[j]);
      }
      found[std::string(w.substr(1))] = rest;
      *params = std::move(found);
      return true;
    }
    if (i >= got.size()) {
      return false;
    }
    if (w.starts_with(':')) {
      found[std::string(w.substr(1))] = std::string(got[i]);
    } else if (w != got[i]) {
      return false;
    }
  }
  if (i != got.size()) {
    return false;
  }
  *params = std::move(found);
  return true;
}

}  // namespace berth::httpserver
