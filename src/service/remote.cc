#include "service/remote.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/scope_exit.h"
#include "contextsync/bundle.h"
#include "contextsync/file_store.h"
#include "contextsync/manifest.h"
#include "digest/digest.h"
#include "engine/options_json.h"
#include "os/file.h"
#include "registryserver/parse.h"
#include "service/api.h"
#include "service/cache_api.h"
#include "service/context_trees.h"
#include "service/ssh_bridge.h"
#include "service/usage_api.h"
#include "snapshot/fs_util.h"

namespace berth::service {
namespace {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

bool IsHex64(const std::string& s) {
  if (s.size() != 64) {
    return false;
  }
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// NDJSON lines to the client, from the build's threads and the heartbeat; the first failed
// write (the client went away) cancels the build.
class Stream {
 public:
  Stream(Writer& out, Context ctx) : out_(out), ctx_(std::move(ctx)) {}

  void Line(const json& j) {
    std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard lock(mu_);
    if (broken_) {
      return;
    }
    if (!out_.Write(line).ok()) {
      broken_ = true;
      ctx_.Cancel("the client went away");
    }
  }

 private:
  Writer& out_;
  Context ctx_;
  std::mutex mu_;
  bool broken_ = false;
};

class StreamRenderer final : public engine::Renderer {
 public:
  explicit StreamRenderer(Stream& stream) : stream_(stream) {}
  void Update(const engine::StepUpdate& u) override {
    stream_.Line({{"step", json::parse(engine::ToJson(u))}});
  }

 private:
  Stream& stream_;
};

class Remote {
 public:
  Remote(metastore::Store& store, Builder& builder, RemoteOptions options)
      : store_(store), builder_(builder), options_(std::move(options)) {}

  httpserver::Handler Authed(AuthedAction action) {
    return service::Authed(store_, std::move(action));
  }

  std::string ProjectDir(const std::string& id) const { return options_.root + "/projects/" + id; }

  Result<std::unique_ptr<contextsync::FileStore>> Files(const std::string& project) {
    return contextsync::FileStore::Open(ProjectDir(project) + "/files");
  }

  Result<contextsync::Manifest> LoadManifest(const std::string& project, const std::string& id) {
    if (!IsHex64(id)) {
      return Error::InvalidArgument("manifest id " + id + ": want 64 hex digits");
    }
    Result<std::string> text = os::ReadFile(ProjectDir(project) + "/manifests/" + id + ".json");
    if (!text.ok()) {
      return Error::NotFound("manifest " + id + " not found: send it to context/missing first");
    }
    return contextsync::ParseManifestJson(*text);
  }

  Result<Response> Missing(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project project = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception& e) {
      return Error::InvalidArgument(std::string("request body: ") + e.what());
    }
    if (!body.is_object() || !body.contains("manifest")) {
      return Error::InvalidArgument("request body: field \"manifest\" is required");
    }
    contextsync::Manifest manifest =
        BERTH_TRY(contextsync::ParseManifestJson(body["manifest"].dump()));
    std::string canonical = contextsync::ManifestToJson(manifest);
    std::string id = digest::FromBytes(canonical).hex();
    std::string dir = ProjectDir(project.id) + "/manifests";
    BERTH_TRY(os::MakeDirs(dir, 0700));
    BERTH_TRY(os::WriteFileAtomic(dir + "/" + id + ".json", canonical, 0600));
    std::unique_ptr<contextsync::FileStore> files = BERTH_TRY(Files(project.id));
    json missing = json::array();
    for (const digest::Digest& d : BERTH_TRY(files->Missing(manifest))) {
      missing.push_back(d.ToString());
    }
    return Response::Json(200, json{{"manifest_id", id}, {"missing", missing}}.dump());
  }

  Result<Response> Upload(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project project = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    std::string id = r.params.at("manifest");
    contextsync::Manifest manifest = BERTH_TRY(LoadManifest(project.id, id));
    std::unique_ptr<contextsync::FileStore> files = BERTH_TRY(Files(project.id));
    std::vector<digest::Digest> expected = BERTH_TRY(files->Missing(manifest));
    // The body goes to a temporary file first (the bundle reader pulls; the server pushes),
    // which a failed or cut-off upload removes.
    std::string tmp_dir = ProjectDir(project.id) + "/uploads";
    BERTH_TRY(os::MakeDirs(tmp_dir, 0700));
    std::string tmp = tmp_dir + "/bundle-XXXXXX";
    int raw = mkstemp(tmp.data());
    if (raw < 0) {
      return Error::FromErrno("creating " + tmp, errno);
    }
    UniqueFd fd(raw);
    ScopeExit remove([&] { (void)unlink(tmp.c_str()); });
    bool write_ok = true;
    uint64_t wire = 0;
    bool read = r.read_body([&](std::string_view chunk) {
      wire += chunk.size();
      write_ok = os::WriteAll(fd.get(), chunk).ok();
      return write_ok;
    });
    if (!read || !write_ok) {
      return Error::DataLoss("the upload was cut off or could not be stored");
    }
    if (lseek(fd.get(), 0, SEEK_SET) != 0) {
      return Error::FromErrno("lseek " + tmp, errno);
    }
    FdReader reader(fd.get());
    contextsync::BundleStats stats =
        BERTH_TRY(contextsync::ReadBundle(ctx, reader, *files, manifest, expected));
    {
      std::lock_guard lock(mu_);
      Sent& sent = sent_[project.id + "/" + id];
      sent.files += stats.files;
      sent.wire_bytes += wire;
      for (const digest::Digest& d : stats.digests) {
        sent.digests.insert(d.ToString());
      }
    }
    return Response::Json(
        200, json{{"files", stats.files}, {"bytes", stats.bytes}, {"wire_bytes", wire}}.dump());
  }

  Result<Response> StartBuild(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project project = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    // An organization over its monthly build minutes starts no build (429, usage_api.h).
    BERTH_TRY(CheckBuildMinutes(ctx, store_, project));
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception& e) {
      return Error::InvalidArgument(std::string("request body: ") + e.what());
    }
    if (!body.is_object() || !body.contains("options") || !body["options"].is_object()) {
      return Error::InvalidArgument("request body: field \"options\" (an object) is required");
    }
    std::string manifest_id = body.value("manifest_id", "");
    engine::BuildOptions options = BERTH_TRY(engine::OptionsFromJson(body["options"].dump()));
    // "ssh": ["default", ...]: agents the client forwards (options carry no client path).
    // "save": true, "save_tags": [...]: keep the image in the project's registry repository.
    bool save = body.contains("save") && body["save"].is_boolean() && body["save"].get<bool>();
    std::vector<std::string> save_tags;
    if (body.contains("save_tags")) {
      if (!body["save_tags"].is_array() || body["save_tags"].size() > 64) {
        return Error::InvalidArgument(
            "request body: field \"save_tags\": want an array of at most 64 tags");
      }
      for (const json& tag : body["save_tags"]) {
        if (!tag.is_string() || !registryserver::IsValidTag(tag.get<std::string>())) {
          return Error::InvalidArgument(
              "request body: field \"save_tags\": a tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
        }
        save_tags.push_back(tag.get<std::string>());
      }
      save = true;
    }
    if (save && !options_.save) {
      return Error::FailedPrecondition("this berthd keeps no saved builds (no registry)");
    }
    // "export_image": true (a bake target another reads): an image even without an image output.
    bool export_image =
        save || (body.contains("export_image") && body["export_image"].is_boolean() &&
                 body["export_image"].get<bool>());
    if (export_image &&
        std::none_of(options.outputs.begin(), options.outputs.end(),
                     [](const engine::Output& o) {
                       return o.type != engine::OutputType::kLocal &&
                              o.type != engine::OutputType::kTar;
                     }) &&
        !options.outputs.empty()) {
      // Only file-system outputs: an image is made as well (for the registry, or the reader).
      options.outputs.push_back({.type = engine::OutputType::kImage});
    }
    std::vector<std::string> ssh_ids;
    if (body.contains("ssh")) {
      if (!body["ssh"].is_array()) {
        return Error::InvalidArgument("request body: field \"ssh\": want an array of ids");
      }
      for (const json& id : body["ssh"]) {
        if (!id.is_string()) {
          return Error::InvalidArgument("request body: field \"ssh\": want an array of ids");
        }
        ssh_ids.push_back(id.get<std::string>());
      }
    }
    std::shared_ptr<SshBridge> bridge;
    if (!ssh_ids.empty()) {
      bridge = BERTH_TRY_CONTEXT(SshBridge::Create(ssh_ids), "request body");
      options.ssh = bridge->sockets();
    }
    // "contexts": {"NAME": "<manifest id>"}: the named local contexts the client synced.
    std::map<std::string, std::string> named;
    if (body.contains("contexts")) {
      const json& contexts = body["contexts"];
      if (!contexts.is_object() || contexts.size() > 64) {
        return Error::InvalidArgument(
            "request body: field \"contexts\": want an object of at most 64 names");
      }
      for (const auto& [name, id] : contexts.items()) {
        if (name.empty() || name == "context" || name.size() > 256 || !id.is_string()) {
          return Error::InvalidArgument("request body: contexts." + name +
                                        ": want a name other than \"context\" and a manifest id");
        }
        if (options.build_contexts.count(name) != 0) {
          return Error::InvalidArgument("request body: contexts." + name +
                                        " is also an image context");
        }
        named[name] = id.get<std::string>();
      }
    }
    contextsync::Manifest manifest = BERTH_TRY(LoadManifest(project.id, manifest_id));
    std::unique_ptr<contextsync::FileStore> files = BERTH_TRY(Files(project.id));
    if (!BERTH_TRY(files->Missing(manifest)).empty()) {
      return Error::FailedPrecondition("the context is incomplete: upload the missing files");
    }
    std::map<std::string, contextsync::Manifest> named_manifests;
    for (const auto& [name, id] : named) {
      contextsync::Manifest m = BERTH_TRY_CONTEXT(LoadManifest(project.id, id), "context " + name);
      if (!BERTH_TRY(files->Missing(m)).empty()) {
        return Error::FailedPrecondition("context " + name +
                                         " is incomplete: upload the missing files");
      }
      named_manifests.emplace(name, std::move(m));
    }
    metastore::Build build =
        BERTH_TRY(store_.CreateBuild(ctx, {.project_id = project.id,
                                           .options_json = engine::OptionsToJson(options, false),
                                           .dockerfile = options.dockerfile_text}));
    // What travelled for this context, recorded with the build.
    Sent sent;
    {
      std::lock_guard lock(mu_);
      auto it = sent_.find(project.id + "/" + manifest_id);
      if (it != sent_.end()) {
        sent = std::move(it->second);
        sent_.erase(it);
      }
    }
    std::vector<metastore::ContextFile> sent_files;
    for (const contextsync::Entry& e : manifest.entries) {
      if (e.type == contextsync::EntryType::kFile && sent.digests.count(e.digest.ToString())) {
        sent_files.push_back(
            {.path = e.path, .size = static_cast<int64_t>(e.size), .digest = e.digest.ToString()});
      }
    }
    BERTH_TRY(
        store_.SetBuildContext(ctx, build.id, sent_files, static_cast<int64_t>(sent.wire_bytes)));

    std::string context_dir = ProjectDir(project.id) + "/contexts/" + build.id;
    std::string output_dir = ProjectDir(project.id) + "/outputs/" + build.id;
    BERTH_TRY(os::MakeDirs(ProjectDir(project.id) + "/contexts", 0700));
    // The context's tree, shared with other builds of the same manifest (an unchanged context
    // is not materialized again).
    std::shared_ptr<const std::string> tree =
        BERTH_TRY(trees_.Acquire(ctx, ProjectDir(project.id), manifest_id, manifest, *files));
    options.context = *tree;
    // Named local contexts, synced like the main one (checked before anything is written):
    // materialized beside it.
    std::string named_dir = context_dir + ".named";
    size_t n = 0;
    for (const auto& [name, m] : named_manifests) {
      std::string dir = named_dir + "/" + std::to_string(n++);
      BERTH_TRY(os::MakeDirs(named_dir, 0700));
      BERTH_TRY(files->Materialize(ctx, m, dir));
      options.build_contexts[name] = dir;
    }
    // Client-side outputs are written here and fetched; the client unpacks directories.
    json outputs = json::array();
    for (size_t i = 0; i < options.outputs.size(); ++i) {
      engine::Output& out = options.outputs[i];
      bool client_side = out.type == engine::OutputType::kLocal ||
                         out.type == engine::OutputType::kTar ||
                         out.type == engine::OutputType::kOci ||
                         (out.type == engine::OutputType::kDocker && !out.dest.empty());
      if (!client_side) {
        continue;
      }
      BERTH_TRY(os::MakeDirs(output_dir, 0700));
      std::string type(engine::OutputTypeName(out.type));
      if (out.type == engine::OutputType::kLocal) {
        out.type = engine::OutputType::kTar;
      }
      out.tar = true;
      out.dest = output_dir + "/" + std::to_string(i);
      outputs.push_back({{"index", i},
                         {"type", type},
                         {"url", "/api/v1/builds/" + build.id + "/outputs/" + std::to_string(i)}});
    }

    Response response;
    response.content_type = "application/x-ndjson";
    std::string build_id = build.id;
    if (bridge != nullptr) {
      std::lock_guard lock(mu_);
      bridges_[build_id] = bridge;
    }
    response.stream = [this, project, build_id, options = std::move(options), tree, named_dir,
                       outputs, bridge, save, save_tags](Writer& w) mutable {
      Context build_ctx = Context::Background().WithCancel();
      Stream stream(w, build_ctx);
      ScopeExit remove_context([&] {
        tree.reset();
        (void)snapshot::RemoveAll(named_dir);
        if (bridge != nullptr) {
          bridge->Close();
          std::lock_guard lock(mu_);
          bridges_.erase(build_id);
        }
      });
      stream.Line({{"build", {{"id", build_id}, {"project_id", project.id}}}});
      // Heartbeat: a silent step still notices a client that went away.
      std::mutex hb_mu;
      std::condition_variable hb_cv;
      bool done = false;
      std::thread heartbeat([&] {
        std::unique_lock lock(hb_mu);
        while (!done) {
          hb_cv.wait_for(lock, std::chrono::seconds(2));
          if (!done) {
            stream.Line({{"ping", true}});
          }
        }
      });
      StreamRenderer renderer(stream);
      Result<engine::BuildResult> result =
          builder_.Run(build_ctx, project, build_id, std::move(options), &renderer);
      {
        std::lock_guard lock(hb_mu);
        done = true;
      }
      hb_cv.notify_all();
      heartbeat.join();
      if (!result.ok()) {
        stream.Line({{"error",
                      {{"code", httpserver::ErrorCodeName(result.error())},
                       {"message", result.error().ToString()}}}});
        return;
      }
      json saved;
      if (save) {
        std::vector<std::string> tags = {build_id};
        for (const std::string& tag : save_tags) {
          if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
            tags.push_back(tag);
          }
        }
        Result<> kept = result->manifest_digest.empty()
                            ? Result<>(Error::FailedPrecondition("the build made no image"))
                            : options_.save(Context::Background(), project.id, project.id,
                                            result->manifest_digest, tags);
        if (!kept.ok()) {
          stream.Line({{"error",
                        {{"code", httpserver::ErrorCodeName(kept.error())},
                         {"message", "saving the build: " + kept.error().ToString()}}}});
          return;
        }
        saved = {{"repository", project.id}, {"digest", result->manifest_digest}, {"tags", tags}};
      }
      stream.Line({{"result",
                    {{"build_id", build_id},
                     {"saved", saved},
                     {"manifest_digest", result->manifest_digest},
                     {"config_digest", result->config_digest},
                     {"manifest_size", result->manifest_size},
                     {"manifest_media_type", result->manifest_media_type},
                     {"platform", result->platform},
                     {"tags", result->tags},
                     {"pushed", result->pushed},
                     {"outputs", outputs}}}});
    };
    return response;
  }

  // The ssh bridge of a running build the caller may reach.
  Result<std::shared_ptr<SshBridge>> BridgeOf(const Context& ctx, const Principal& who,
                                              const std::string& id) {
    Result<metastore::Build> build = store_.GetBuild(ctx, id);
    if (!build.ok() || !AuthorizeProject(ctx, store_, who, build->project_id).ok()) {
      return Error::NotFound("build " + id + " not found");
    }
    std::lock_guard lock(mu_);
    auto it = bridges_.find(id);
    if (it == bridges_.end()) {
      return Error::FailedPrecondition("build " + id + " forwards no ssh agent (or has ended)");
    }
    return it->second;
  }

  // GET /api/v1/builds/:id/ssh-accept: the next agent connection a RUN made
  // ({"conn": N, "id": "default"}), or 204 after a while without one.
  Result<Response> SshAccept(const Context& ctx, const Principal& who, const Request& r) {
    std::shared_ptr<SshBridge> bridge = BERTH_TRY(BridgeOf(ctx, who, r.params.at("id")));
    Result<std::optional<SshBridge::Pending>> next = bridge->Accept(std::chrono::seconds(20));
    if (!next.ok()) {
      return Error::FailedPrecondition("build " + r.params.at("id") + " has ended");
    }
    if (!next->has_value()) {
      Response none;
      none.status = 204;
      return none;
    }
    return Response::Json(200, json{{"conn", (*next)->conn}, {"id", (*next)->id}}.dump());
  }

  Result<std::shared_ptr<UniqueFd>> SshConnection(const Context& ctx, const Principal& who,
                                                  const Request& r) {
    std::shared_ptr<SshBridge> bridge = BERTH_TRY(BridgeOf(ctx, who, r.params.at("id")));
    const std::string& n = r.params.at("conn");
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos) {
      return Error::InvalidArgument("ssh connection " + n);
    }
    return bridge->Connection(std::stoi(n));
  }

  // GET /api/v1/builds/:id/ssh/:conn: what the RUN sends its agent, streamed until it closes.
  Result<Response> SshDown(const Context& ctx, const Principal& who, const Request& r) {
    std::shared_ptr<UniqueFd> fd = BERTH_TRY(SshConnection(ctx, who, r));
    Response response;
    response.content_type = "application/octet-stream";
    response.stream = [fd](Writer& w) {
      char buf[16384];
      for (;;) {
        ssize_t got = ::read(fd->get(), buf, sizeof(buf));
        if (got < 0 && errno == EINTR) {
          continue;
        }
        if (got <= 0 || !w.Write(std::string_view(buf, static_cast<size_t>(got))).ok()) {
          break;
        }
      }
    };
    return response;
  }

  // PUT /api/v1/builds/:id/ssh/:conn: the agent's answers, streamed to the RUN.
  Result<Response> SshUp(const Context& ctx, const Principal& who, const Request& r) {
    std::shared_ptr<UniqueFd> fd = BERTH_TRY(SshConnection(ctx, who, r));
    bool ok = true;
    r.read_body([&](std::string_view chunk) {
      ok = os::WriteAll(fd->get(), chunk).ok();
      return ok;
    });
    ::shutdown(fd->get(), SHUT_WR);
    return Response::Json(200, json{{"ok", ok}}.dump());
  }

  Result<Response> Output(const Context& ctx, const Principal& who, const Request& r) {
    const std::string& id = r.params.at("id");
    Result<metastore::Build> build = store_.GetBuild(ctx, id);
    if (!build.ok() || !AuthorizeProject(ctx, store_, who, build->project_id).ok()) {
      return Error::NotFound("build " + id + " not found");
    }
    const std::string& n = r.params.at("n");
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos) {
      return Error::InvalidArgument("output index " + n);
    }
    std::string path = ProjectDir(build->project_id) + "/outputs/" + id + "/" + n;
    Result<UniqueFd> fd = os::Open(path, O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) {
      return Error::NotFound("output " + n + " of build " + id + " not found (fetched already?)");
    }
    auto shared = std::make_shared<UniqueFd>(std::move(fd).value());
    Response response;
    response.content_type = "application/x-tar";
    response.stream = [shared, path](Writer& w) {
      std::vector<char> buf(1 << 20);
      bool complete = true;
      for (;;) {
        ssize_t got = ::read(shared->get(), buf.data(), buf.size());
        if (got < 0 && errno == EINTR) {
          continue;
        }
        if (got <= 0) {
          complete = got == 0;
          break;
        }
        if (!w.Write(std::string_view(buf.data(), static_cast<size_t>(got))).ok()) {
          complete = false;
          break;
        }
      }
      if (complete) {
        (void)unlink(path.c_str());
      }
    };
    return response;
  }

 private:
  struct Sent {
    uint64_t files = 0;
    uint64_t wire_bytes = 0;
    std::set<std::string> digests;
  };

  metastore::Store& store_;
  Builder& builder_;
  RemoteOptions options_;
  std::mutex mu_;
  std::map<std::string, Sent> sent_;  // by project/manifest id, until the build takes it
  ContextTrees trees_;
  std::map<std::string, std::shared_ptr<SshBridge>> bridges_;  // by build id, while it runs
};

}  // namespace

void RegisterRemoteBuilds(httpserver::Server& server, metastore::Store& store, Builder& builder,
                          const RemoteOptions& options) {
  auto remote = std::make_shared<Remote>(store, builder, options);
  auto bind = [remote](Result<Response> (Remote::*method)(const Context&, const Principal&,
                                                          const Request&)) {
    return remote->Authed(
        [remote, method](const Context& ctx, const Principal& who, const Request& r) {
          return ((*remote).*method)(ctx, who, r);
        });
  };
  server.Route("POST", "/api/v1/projects/:id/context/missing", bind(&Remote::Missing));
  server.Route("PUT", "/api/v1/projects/:id/context/:manifest", bind(&Remote::Upload),
               /*stream_body=*/true);
  server.Route("POST", "/api/v1/projects/:id/builds", bind(&Remote::StartBuild));
  server.Route("GET", "/api/v1/builds/:id/outputs/:n", bind(&Remote::Output));
  server.Route("GET", "/api/v1/builds/:id/ssh-accept", bind(&Remote::SshAccept));
  server.Route("GET", "/api/v1/builds/:id/ssh/:conn", bind(&Remote::SshDown));
  server.Route("PUT", "/api/v1/builds/:id/ssh/:conn", bind(&Remote::SshUp),
               /*stream_body=*/true);
  RegisterCacheApi(server, store, builder.root());
}

}  // namespace berth::service
