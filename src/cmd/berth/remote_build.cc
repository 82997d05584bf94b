#include "cmd/berth/remote_build.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "archive/apply.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "client/client.h"
#include "client/settings.h"
#include "contextsync/bundle.h"
#include "contextsync/manifest.h"
#include "contextsync/scan.h"
#include "engine/cache_io.h"
#include "engine/options_json.h"
#include "engine/progress.h"
#include "images/load.h"
#include "images/root.h"
#include "oci/layout.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"
#include "registry/http.h"

namespace berth::cmd {
namespace {

using json = nlohmann::json;

// Splits a streamed body into lines and hands each to `on_line`.
class LineWriter final : public Writer {
 public:
  explicit LineWriter(std::function<Result<>(std::string_view)> on_line)
      : on_line_(std::move(on_line)) {}
  Result<> Write(std::string_view data) override {
    partial_.append(data);
    size_t start = 0;
    for (size_t nl = partial_.find('\n'); nl != std::string::npos;
         nl = partial_.find('\n', start)) {
      BERTH_TRY(on_line_(std::string_view(partial_).substr(start, nl - start)));
      start = nl + 1;
    }
    partial_.erase(0, start);
    if (partial_.size() > (size_t{64} << 20)) {
      return Error::DataLoss("the build stream sent a line over 64 MiB");
    }
    return {};
  }
  Result<> Close() override { return {}; }

 private:
  std::function<Result<>(std::string_view)> on_line_;
  std::string partial_;
};

std::string CacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/berth/contextsync";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/tmp") + "/.cache/berth/contextsync";
}

// The API's error document as an Error, named by what was being done.
Error ErrorFromResponse(const registry::HttpResponse& r, const std::string& what,
                        const std::string& base) {
  return client::ErrorFromResponse(r.status, r.body, base).AddContext(what);
}

// A temporary file, removed when this goes away.
struct TempFile {
  std::string path;
  UniqueFd fd;
  ~TempFile() {
    if (!path.empty()) {
      (void)unlink(path.c_str());
    }
  }
  static Result<std::unique_ptr<TempFile>> Create(const std::string& dir) {
    auto t = std::make_unique<TempFile>();
    t->path = dir + "/berth-remote-XXXXXX";
    int fd = mkstemp(t->path.data());
    if (fd < 0) {
      t->path.clear();
      return Error::FromErrno("creating a temporary file in " + dir, errno);
    }
    t->fd = UniqueFd(fd);
    return t;
  }
};

// The client's end of --ssh on berthd: takes each agent connection a RUN makes on the server
// (a long poll), connects to the local agent socket, and relays the bytes both ways over two
// HTTP streams until either side closes. Stops once the build has ended.
class SshRelay {
 public:
  SshRelay(const Context& ctx, std::string base, std::string token, std::string build_id,
           std::map<std::string, std::string> sockets)
      : ctx_(ctx.WithCancel()),
        base_(std::move(base)),
        token_(std::move(token)),
        build_id_(std::move(build_id)),
        sockets_(std::move(sockets)) {
    thread_ = std::thread([this] { Loop(); });
  }
  SshRelay(const SshRelay&) = delete;
  SshRelay& operator=(const SshRelay&) = delete;
  ~SshRelay() {
    ctx_.Cancel("the build has ended");
    {
      std::lock_guard lock(mu_);
      for (int fd : agents_) {
        ::shutdown(fd, SHUT_RDWR);  // a relay blocked reading its agent wakes
      }
    }
    thread_.join();
    for (std::thread& t : relays_) {
      t.join();
    }
  }

 private:
  registry::HttpRequest Request(std::string method, const std::string& path) const {
    registry::HttpRequest r;
    r.method = std::move(method);
    r.url = base_ + "/api/v1/builds/" + build_id_ + path;
    r.headers.emplace_back("Authorization", "Bearer " + token_);
    return r;
  }

  void Loop() {
    registry::HttpClient http;
    while (!ctx_.Done()) {
      Result<registry::HttpResponse> next = http.Do(ctx_, Request("GET", "/ssh-accept"));
      if (next.ok() && next->status == 204) {
        continue;  // nothing yet
      }
      if (!next.ok() || next->status != 200) {
        return;  // the build has ended (or the server is gone: the build stream says why)
      }
      json j = json::parse(next->body, nullptr, false);
      int conn = j.is_object() ? j.value("conn", 0) : 0;
      auto socket = sockets_.find(j.is_object() ? j.value("id", "") : "");
      if (conn <= 0 || socket == sockets_.end()) {
        continue;
      }
      relays_.emplace_back([this, conn, path = socket->second] { Relay(conn, path); });
    }
  }

  // One connection: the RUN's bytes to the agent (GET), the agent's back (PUT).
  void Relay(int conn, const std::string& path) {
    UniqueFd agent(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (!agent.valid() || path.size() >= sizeof(addr.sun_path)) {
      return;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(agent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::fprintf(stderr, "warning: ssh: cannot reach the agent at %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return;
    }
    {
      std::lock_guard lock(mu_);
      agents_.insert(agent.get());
    }
    ScopeExit forget([&] {
      std::lock_guard lock(mu_);
      agents_.erase(agent.get());
    });
    std::string at = "/ssh/" + std::to_string(conn);
    std::thread up([&] {
      registry::HttpClient http;
      FdReader from_agent(agent.get());
      registry::HttpRequest put = Request("PUT", at);
      put.body_reader = &from_agent;
      put.body_size = -1;
      (void)http.Do(ctx_, put);
    });
    registry::HttpClient http;
    FdWriter to_agent(agent.get());
    registry::HttpRequest get = Request("GET", at);
    get.sink = &to_agent;
    (void)http.Do(ctx_, get);
    // The RUN closed its end: the agent sees the end too, closes, and the PUT finishes.
    ::shutdown(agent.get(), SHUT_WR);
    up.join();
  }

  Context ctx_;
  std::string base_;
  std::string token_;
  std::string build_id_;
  std::map<std::string, std::string> sockets_;
  std::thread thread_;
  std::vector<std::thread> relays_;  // touched by the loop's thread only, joined after it
  std::mutex mu_;
  std::set<int> agents_;  // agent sockets of the relays running
};

}  // namespace

Result<engine::BuildResult> RemoteBuild(const Context& ctx, const RemoteTarget& target,
                                        const engine::BuildOptions& requested, RemoteStats* stats) {
  // Outputs into the local image store (type=image without push, type=docker without dest,
  // --load) come back as OCI archives and are loaded here; on the builder they would land in
  // its own store, out of the user's reach.
  engine::BuildOptions options = requested;
  std::vector<bool> load(options.outputs.size(), false);
  for (size_t i = 0; i < options.outputs.size(); ++i) {
    engine::Output& out = options.outputs[i];
    bool local_store = (out.type == engine::OutputType::kImage && !out.push) ||
                       (out.type == engine::OutputType::kDocker && out.dest.empty());
    if (!local_store) {
      continue;
    }
    if (out.names.empty()) {
      out.names = options.tags;
    }
    if (!out.names.empty()) {
      out.type = engine::OutputType::kOci;
      out.tar = true;
      out.dest = "load";
      load[i] = true;
    }
  }
  if (options.outputs.empty() && !options.tags.empty()) {
    options.outputs.push_back(
        {.type = engine::OutputType::kOci, .names = options.tags, .dest = "load"});
    load.push_back(true);
  }
  const std::string& base = target.host;
  std::string project_path = "/api/v1/projects/" + target.project;
  registry::HttpClient http;
  auto request = [&](std::string method, std::string path) {
    registry::HttpRequest r;
    r.method = std::move(method);
    r.url = base + path;
    r.headers.emplace_back("Authorization", "Bearer " + target.token);
    return r;
  };

  // 1. Each context's manifest, and what the builder lacks; 2. only those files, as one
  // compressed bundle per context.
  RemoteStats local_stats;
  auto sync = [&](const std::string& dir,
                  const std::vector<std::string>& excludes) -> Result<std::string> {
    contextsync::Manifest manifest =
        BERTH_TRY_CONTEXT(contextsync::Scan(ctx, dir, excludes, {.cache_dir = CacheDir()}),
                          "scanning the context " + dir);
    registry::HttpRequest missing_req = request("POST", project_path + "/context/missing");
    missing_req.headers.emplace_back("Content-Type", "application/json");
    missing_req.body = "{\"manifest\":" + contextsync::ManifestToJson(manifest) + "}";
    missing_req.max_body = size_t{256} << 20;
    registry::HttpResponse missing_resp =
        BERTH_TRY_CONTEXT(http.Do(ctx, missing_req), "reaching " + base);
    if (missing_resp.status != 200) {
      return ErrorFromResponse(missing_resp, "sending the context manifest", base);
    }
    std::string manifest_id;
    std::vector<digest::Digest> missing;
    try {
      json j = json::parse(missing_resp.body);
      manifest_id = j.at("manifest_id").get<std::string>();
      for (const json& d : j.at("missing")) {
        missing.push_back(BERTH_TRY(digest::Digest::Parse(d.get<std::string>())));
      }
    } catch (const std::exception& e) {
      return Error::DataLoss(std::string("the builder's missing list: ") + e.what());
    }
    if (missing.empty()) {
      return manifest_id;
    }
    std::unique_ptr<TempFile> bundle = BERTH_TRY(TempFile::Create("/tmp"));
    {
      FdWriter writer(bundle->fd.get());
      BERTH_TRY_CONTEXT(contextsync::WriteBundle(ctx, dir, manifest, missing, writer),
                        "packing the context files");
    }
    struct stat st {};
    if (fstat(bundle->fd.get(), &st) != 0 || lseek(bundle->fd.get(), 0, SEEK_SET) != 0) {
      return Error::FromErrno("reading " + bundle->path, errno);
    }
    FdReader reader(bundle->fd.get());
    registry::HttpRequest put = request("PUT", project_path + "/context/" + manifest_id);
    put.body_reader = &reader;
    put.body_size = st.st_size;
    registry::HttpResponse put_resp = BERTH_TRY_CONTEXT(http.Do(ctx, put), "uploading the context");
    if (put_resp.status != 200) {
      return ErrorFromResponse(put_resp, "uploading the context", base);
    }
    local_stats.files_sent += missing.size();
    local_stats.wire_bytes += static_cast<uint64_t>(st.st_size);
    return manifest_id;
  };
  std::string manifest_id = BERTH_TRY(sync(options.context, options.context_excludes));
  // Named local contexts (--build-context NAME=DIR) travel the same way, each with its own
  // .dockerignore.
  json named = json::object();
  for (const auto& [name, value] : options.build_contexts) {
    if (value.starts_with("docker-image://")) {
      continue;
    }
    std::vector<std::string> excludes;
    std::string ignore = value + "/.dockerignore";
    if (os::Exists(ignore)) {
      std::string text = BERTH_TRY(os::ReadFile(ignore));
      excludes = BERTH_TRY_CONTEXT(patternmatcher::ReadIgnoreFile(text), "reading " + ignore);
    }
    named[name] = BERTH_TRY_CONTEXT(sync(value, excludes), "--build-context " + name);
  }

  // 3. The build, its progress streamed back.
  std::unique_ptr<engine::Renderer> own_renderer;
  engine::Renderer* renderer = options.renderer;
  if (renderer == nullptr && options.progress != nullptr) {
    own_renderer = engine::NewRenderer(options.progress_mode, options.progress);
    renderer = own_renderer.get();
  }
  // A local cache directory is a path here: the build on berthd keeps the project's own cache.
  for (const auto& [flag, specs] : {std::pair{"--cache-from", &options.cache_from},
                                    std::pair{"--cache-to", &options.cache_to}}) {
    for (const std::string& spec : *specs) {
      Result<engine::CacheSpec> parsed = std::string_view(flag) == "--cache-to"
                                             ? engine::ParseCacheExport(spec)
                                             : engine::ParseCacheImport(spec);
      if (parsed.ok() && parsed->type == engine::CacheSpec::Type::kLocal &&
          options.progress != nullptr) {
        std::fprintf(options.progress,
                     "warning: %s %s: not used for a build on berthd, which keeps the project's "
                     "cache (type=registry caches are)\n",
                     flag, spec.c_str());
      }
    }
  }
  registry::HttpRequest start = request("POST", project_path + "/builds");
  start.headers.emplace_back("Content-Type", "application/json");
  start.body = "{\"options\":" + engine::OptionsToJson(options, /*with_secrets=*/true) +
               ",\"manifest_id\":\"" + manifest_id + "\",\"contexts\":" + named.dump();
  if (target.save) {
    start.body += ",\"save\":true,\"save_tags\":" + json(target.save_tags).dump();
  }
  if (target.export_image) {
    start.body += ",\"export_image\":true";
  }
  if (!options.ssh.empty()) {
    json ids = json::array();
    for (const auto& [id, path] : options.ssh) {
      ids.push_back(id);
    }
    start.body += ",\"ssh\":" + ids.dump();
  }
  start.body += "}";
  std::unique_ptr<SshRelay> ssh_relay;
  std::optional<json> result;
  std::optional<json> failure;
  LineWriter lines([&](std::string_view line) -> Result<> {
    if (line.empty()) {
      return {};
    }
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Error::DataLoss("the build stream sent a line that is not JSON");
    }
    if (j.contains("build") && j["build"].is_object()) {
      local_stats.build_id = j["build"].value("id", "");
      if (!options.ssh.empty() && ssh_relay == nullptr) {
        ssh_relay =
            std::make_unique<SshRelay>(ctx, base, target.token, local_stats.build_id, options.ssh);
      }
    } else if (j.contains("step") && renderer != nullptr) {
      Result<engine::StepUpdate> u = engine::StepUpdateFromJson(j["step"].dump());
      if (u.ok()) {
        renderer->Update(*u);
      }
    } else if (j.contains("result")) {
      result = j["result"];
    } else if (j.contains("error")) {
      failure = j["error"];
    }
    return {};
  });
  start.sink = &lines;
  Result<registry::HttpResponse> started = http.Do(ctx, start);
  ssh_relay.reset();
  if (renderer != nullptr) {
    renderer->Finish();
  }
  if (!started.ok()) {
    return std::move(started).error().AddContext("running the build on " + base);
  }
  if (started->status != 200) {
    return ErrorFromResponse(*started, "starting the build", base);
  }
  if (result && result->contains("saved") && (*result)["saved"].is_object()) {
    const json& saved = (*result)["saved"];
    std::string registry_host = client::RegistryHost(base);
    std::string repository = saved.value("repository", "");
    for (const json& tag : saved.value("tags", json::array())) {
      if (tag.is_string()) {
        local_stats.saved.push_back(registry_host + "/" + repository + ":" +
                                    tag.get<std::string>());
      }
    }
    local_stats.saved_digest = saved.value("digest", "");
  }
  if (stats != nullptr) {
    *stats = local_stats;
  }
  if (failure) {
    return Error::Internal(failure->value("message", "the build failed"));
  }
  if (!result) {
    return Error::Unavailable("the build stream ended without a result (builder restarted?)");
  }

  // 4. Client-side outputs.
  engine::BuildResult out;
  out.manifest_digest = result->value("manifest_digest", "");
  out.config_digest = result->value("config_digest", "");
  out.manifest_size = result->value("manifest_size", int64_t{0});
  out.manifest_media_type = result->value("manifest_media_type", "");
  out.platform = result->value("platform", "");
  out.tags = result->value("tags", std::vector<std::string>{});
  out.pushed = result->value("pushed", std::vector<std::string>{});
  for (const json& o : result->value("outputs", json::array())) {
    size_t index = o.value("index", size_t{0});
    std::string url = o.value("url", "");
    if (index >= options.outputs.size() || !url.starts_with("/api/v1/builds/")) {
      return Error::DataLoss("the builder named an output berth did not ask for");
    }
    const engine::Output& want = options.outputs[index];
    std::unique_ptr<TempFile> file = BERTH_TRY(TempFile::Create("/tmp"));
    FdWriter writer(file->fd.get());
    registry::HttpRequest get = request("GET", url);
    get.sink = &writer;
    registry::HttpResponse got = BERTH_TRY_CONTEXT(http.Do(ctx, get), "fetching an output");
    if (got.status != 200) {
      return ErrorFromResponse(got, "fetching output " + std::to_string(index), base);
    }
    if (lseek(file->fd.get(), 0, SEEK_SET) != 0) {
      return Error::FromErrno("reading " + file->path, errno);
    }
    bool unpack = want.type == engine::OutputType::kLocal ||
                  (want.type == engine::OutputType::kOci && !want.tar);
    if (load[index]) {
      std::unique_ptr<oci::LayoutReader> layout =
          BERTH_TRY_CONTEXT(oci::LayoutReader::OpenTar(file->path), "reading the built image");
      oci::Descriptor root = BERTH_TRY(layout->Resolve(layout->Entries().front().ref_name));
      std::unique_ptr<images::Root> store = BERTH_TRY(images::Root::Open(options.root));
      BERTH_TRY_CONTEXT(images::CopyImage(ctx, *layout, root, store->content()),
                        "loading the built image");
      for (const std::string& name : want.names) {
        std::string normalized = BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name);
        BERTH_TRY(store->images().Put(ctx, normalized, root));
        if (std::find(out.tags.begin(), out.tags.end(), normalized) == out.tags.end()) {
          out.tags.push_back(normalized);
        }
      }
    } else if (unpack) {
      BERTH_TRY(os::MakeDirs(want.dest, 0755));
      FdReader reader(file->fd.get());
      BERTH_TRY_CONTEXT(archive::ApplyLayer(ctx, reader, want.dest, {}),
                        "unpacking the output into " + want.dest);
    } else if (want.dest == "-") {
      std::fflush(options.stdout_stream);
      FdReader reader(file->fd.get());
      FdWriter to_stdout(fileno(options.stdout_stream));
      BERTH_TRY(Copy(to_stdout, reader));
    } else {
      std::string tmp = want.dest + ".berth-tmp";
      {
        UniqueFd dest = BERTH_TRY(os::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        FdReader reader(file->fd.get());
        FdWriter dest_writer(dest.get());
        BERTH_TRY(Copy(dest_writer, reader));
      }
      if (::rename(tmp.c_str(), want.dest.c_str()) != 0) {
        return Error::FromErrno("renaming to " + want.dest, errno);
      }
    }
  }
  return out;
}

int ResolveExitCode(const Error& error) {
  ErrorCode code = error.code();
  return code == ErrorCode::kInvalidArgument || code == ErrorCode::kFailedPrecondition ? 2 : 1;
}

}  // namespace berth::cmd
