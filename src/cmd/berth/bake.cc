#include "cmd/berth/bake.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "archive/tar_writer.h"
#include "base/context.h"
#include "base/error.h"
#include "base/scope_exit.h"
#include "base/strings.h"
#include "client/oidc_login.h"
#include "client/settings.h"
#include "cmd/berth/build_options.h"
#include "cmd/berth/flags.h"
#include "cmd/berth/interrupt.h"
#include "cmd/berth/remote_build.h"
#include "cmd/berth/url_context.h"
#include "engine/attest.h"
#include "engine/cache_io.h"
#include "engine/engine.h"
#include "engine/progress.h"
#include "frontend/bake/model.h"
#include "images/root.h"
#include "os/file.h"
#include "platform/platform.h"
#include "snapshot/fs_util.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace berth::cmd {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct BakeFlags {
  std::vector<std::string> targets;
  std::vector<std::string> files;
  std::vector<std::string> sets;
  std::vector<std::string> vars;
  bool print = false;
  std::string list;
  bool load = false;
  bool push = false;
  bool save = false;
  bool no_cache = false;
  bool pull = false;
  std::string provenance;  // --provenance / --sbom: for every target
  std::string sbom;
  std::string progress = "auto";
  std::string metadata_file;
  std::string root;
  std::string host;
  std::string token;
  std::string project;
};

// Where a target's relative paths start: the working directory.
std::string Resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/' || base.empty()) {
    return path;
  }
  return path == "." ? base : base + "/" + path;
}

// One resolved bake target -> the options of its build (the attributes take the strings the
// `berth build` flags take, and are checked the same way).
// A git context is checked out, and a URL context fetched, into a directory added to `checkouts`
// (the caller removes them).
Result<engine::BuildOptions> ToBuildOptions(const frontend::bake::Target& t, const BakeFlags& flags,
                                            const std::string& cwd, const std::string& root,
                                            std::vector<std::string>& checkouts) {
  engine::BuildOptions o;
  o.name = t.name;
  o.root = root;
  // A directory, else a git repository ("https://host/repo.git#ref:subdir"), else an http(s)
  // URL: a tarball or, for the main context (`url_dockerfile` not null), a Dockerfile, whose
  // text goes to *url_dockerfile.
  auto resolve_context = [&](const std::string& value,
                             std::optional<std::string>* url_dockerfile) -> Result<std::string> {
    std::string dir = Resolve(cwd, value);
    if (os::Exists(dir)) {
      return dir;
    }
    if (BERTH_TRY(IsGitContext(value))) {
      checkouts.push_back(BERTH_TRY(CheckoutGitContext(root, value)));
      return checkouts.back();
    }
    if (IsUrlContext(value)) {
      UrlContext fetched = BERTH_TRY(FetchUrlContext(
          Context::Background(), root, value, {.require_archive = url_dockerfile == nullptr}));
      checkouts.push_back(fetched.temp_dir);
      if (url_dockerfile != nullptr) {
        *url_dockerfile = std::move(fetched.dockerfile);
      }
      return fetched.dir;
    }
    if (value.find("://") != std::string::npos) {
      return Error::Unimplemented(
          "context " + value +
          ": only directories, git repositories and http(s) URLs are supported so far");
    }
    return Error::NotFound("context " + value + ": no such directory");
  };
  std::string context = t.context.value_or(".");
  std::optional<std::string> url_dockerfile;
  o.context = BERTH_TRY(resolve_context(context, &url_dockerfile));
  std::string file;
  if (t.dockerfile_inline) {
    o.dockerfile_text = *t.dockerfile_inline;
    file = o.context + "/Dockerfile";
  } else if (url_dockerfile) {
    o.dockerfile_text = std::move(*url_dockerfile);
    file = o.context + "/Dockerfile";
  } else {
    std::string dockerfile = t.dockerfile.value_or("Dockerfile");
    file = dockerfile.starts_with("/") ? dockerfile : o.context + "/" + dockerfile;
    o.dockerfile_text = BERTH_TRY_CONTEXT(os::ReadFile(file), "reading the Dockerfile");
  }
  o.dockerfile_name = file.substr(file.rfind('/') + 1);
  o.context_excludes = BERTH_TRY(ReadIgnorePatterns(file, o.context));
  for (const auto& [key, value] : t.args) {
    if (value) {
      o.build_args[key] = *value;
    }
  }
  for (const auto& [key, value] : t.labels) {
    if (value) {
      o.labels[key] = *value;
    }
  }
  for (const auto& [name, value] : t.contexts) {
    if (value.starts_with("target:") || value.starts_with("docker-image://")) {
      o.build_contexts[name] = value;
    } else {
      o.build_contexts[name] =
          BERTH_TRY_CONTEXT(resolve_context(value, nullptr), "contexts." + name);
    }
  }
  o.target = t.target.value_or("");
  o.tags = t.tags.value_or(std::vector<std::string>{});
  o.no_cache = flags.no_cache || t.no_cache.value_or(false);
  o.no_cache_filter = t.no_cache_filter.value_or(std::vector<std::string>{});
  o.cache_from = t.cache_from.value_or(std::vector<std::string>{});
  o.cache_to = t.cache_to.value_or(std::vector<std::string>{});
  for (const std::string& spec : o.cache_from) {
    BERTH_TRY(engine::ParseCacheImport(spec));
  }
  for (const std::string& spec : o.cache_to) {
    BERTH_TRY(engine::ParseCacheExport(spec));
  }
  // --provenance and --sbom come after the target's attest: they win.
  o.attests = t.attest.value_or(std::vector<std::string>{});
  if (!flags.provenance.empty()) {
    o.attests.push_back(BERTH_TRY(engine::ProvenanceAttest(flags.provenance)));
  }
  if (!flags.sbom.empty()) {
    o.attests.push_back(BERTH_TRY(engine::SbomAttest(flags.sbom)));
  }
  BERTH_TRY_CONTEXT(engine::ParseAttests(o.attests), "attest");
  o.pull = flags.pull || t.pull.value_or(false);
  o.annotations = BERTH_TRY(ParseAnnotations(t.annotations.value_or(std::vector<std::string>{})));
  for (const std::string& spec : t.secret.value_or(std::vector<std::string>{})) {
    auto [id, value] = BERTH_TRY(ParseSecret(spec));
    o.secrets[id] = std::move(value);
  }
  for (const std::string& spec : t.ssh.value_or(std::vector<std::string>{})) {
    auto [id, path] = BERTH_TRY(ParseSsh(spec));
    o.ssh[id] = std::move(path);
  }
  o.network = t.network.value_or("default");
  if (o.network != "default" && o.network != "host" && o.network != "none") {
    return Error::InvalidArgument("network " + o.network + ": want default, host or none");
  }
  for (const auto& [host, ip] : t.extra_hosts) {
    if (ip) {
      o.extra_hosts.push_back(host + "=" + *ip);
    }
  }
  for (const std::string& spec : t.ulimits.value_or(std::vector<std::string>{})) {
    o.ulimits.push_back(BERTH_TRY(ParseUlimit(spec)));
  }
  if (t.shm_size) {
    o.shm_size = static_cast<uint64_t>(BERTH_TRY(ParseByteSize("shm-size", *t.shm_size)));
  }
  for (const std::string& p : t.platforms.value_or(std::vector<std::string>{})) {
    platform::Platform want = BERTH_TRY_CONTEXT(platform::ParsePlatform(p), "platforms");
    if (!(want == platform::HostPlatform())) {
      return Error::Unimplemented("platforms " + want.ToString() + ": only the host platform (" +
                                  platform::HostPlatform().ToString() + ") can be built so far");
    }
  }
  if (t.call && *t.call != "build") {
    return Error::Unimplemented("call = " + *t.call + ": only build is supported");
  }
  std::vector<std::string> outputs;
  for (const std::string& out : t.output.value_or(std::vector<std::string>{})) {
    if (out == "type=cacheonly") {
      o.cache_only = true;
    } else {
      outputs.push_back(out);
    }
  }
  if (!o.cache_only || !outputs.empty()) {
    o.cache_only = false;
    o.outputs = BERTH_TRY(ParseOutputs(outputs, flags.push, flags.load));
  }
  o.source_date_epoch = BERTH_TRY(archive::SourceDateEpochFromEnv());
  return o;
}

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    auto [k, v] = SplitOnce(*e, '=');
    env.emplace(std::move(k), std::move(v));
  }
  return env;
}

// The targets on berthd, each a remote build of its project (project_id, else the bake's) with
// its server and token (`servers`, one per target), in parallel; the server's cache makes a step
// they share run once. Progress of all goes to one renderer. The first failure cancels the
// others.
Result<std::vector<engine::BuildResult>> RemoteBake(const Context& parent,
                                                    const std::vector<client::Server>& servers,
                                                    const std::vector<std::string>& projects,
                                                    std::vector<engine::BuildOptions>& builds,
                                                    bool save, bool quiet_summary,
                                                    std::vector<RemoteStats>& stats) {
  std::unique_ptr<engine::Renderer> shared;
  engine::StepNumbers numbers;
  if (builds.front().progress != nullptr) {
    shared = engine::NewRenderer(builds.front().progress_mode, builds.front().progress);
  }
  std::vector<std::unique_ptr<engine::Renderer>> renderers;
  for (engine::BuildOptions& b : builds) {
    renderers.push_back(shared ? engine::NewTargetRenderer(*shared, b.name, numbers) : nullptr);
    b.renderer = renderers.back().get();
    if (!shared) {
      b.progress = nullptr;
    }
  }
  // target:NAME contexts: a target waits for the targets it reads, whose images the builder
  // keeps (exported even when they have no image output), and reads them by digest.
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < builds.size(); ++i) {
    index_of[builds[i].name] = i;
  }
  std::vector<std::map<std::string, size_t>> deps(builds.size());  // context name -> target
  std::vector<bool> needed(builds.size(), false);
  for (size_t i = 0; i < builds.size(); ++i) {
    for (const auto& [name, value] : builds[i].build_contexts) {
      if (!value.starts_with("target:")) {
        continue;
      }
      auto it = index_of.find(value.substr(7));
      if (it == index_of.end()) {
        return Error::InvalidArgument("target " + builds[i].name + ": context " + name + " reads " +
                                      value + ", which is not being built");
      }
      deps[i][name] = it->second;
      needed[it->second] = true;
    }
  }
  Context ctx = parent.WithCancel();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> done(builds.size(), false);
  std::optional<Error> first_error;
  std::vector<engine::BuildResult> results(builds.size());
  stats.assign(builds.size(), RemoteStats{});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < builds.size(); ++i) {
    threads.emplace_back([&, i] {
      engine::BuildOptions options = builds[i];
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] {
          return first_error.has_value() ||
                 std::all_of(deps[i].begin(), deps[i].end(),
                             [&](const auto& d) { return done[d.second]; });
        });
        if (first_error) {
          return;
        }
        for (const auto& [name, d] : deps[i]) {
          options.build_contexts[name] =
              "docker-image://berth.invalid/bake/target@" + results[d].manifest_digest;
        }
      }
      // A target built only as another's context exports its image and nothing else.
      if (needed[i]) {
        options.cache_only = false;
      }
      RemoteTarget target{.host = servers[i].url,
                          .token = servers[i].token,
                          .project = projects[i],
                          .save = save && !builds[i].cache_only,
                          .export_image = needed[i]};
      Result<engine::BuildResult> r = RemoteBuild(ctx, target, options, &stats[i]);
      std::lock_guard lock(mu);
      if (r.ok() && needed[i] && r->manifest_digest.empty()) {
        r = Error::Internal("the builder kept no image of target " + builds[i].name);
      }
      if (r.ok()) {
        results[i] = std::move(r).value();
        done[i] = true;
      } else if (!first_error) {
        first_error = std::move(r).error().AddContext("target " + builds[i].name);
        ctx.Cancel("another target failed");
      }
      cv.notify_all();
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (shared) {
    shared->Finish();
  }
  for (size_t i = 0; i < builds.size() && !quiet_summary; ++i) {
    if (stats[i].build_id.empty()) {
      continue;
    }
    std::fprintf(stderr, "%s: remote build %s: %llu context file(s) sent, %llu bytes\n",
                 builds[i].name.c_str(), stats[i].build_id.c_str(),
                 static_cast<unsigned long long>(stats[i].files_sent),
                 static_cast<unsigned long long>(stats[i].wire_bytes));
    if (std::getenv("BERTH_NO_SUMMARY_LINK") == nullptr) {
      std::fprintf(stderr, "%s: build record: %s/api/v1/builds/%s\n", builds[i].name.c_str(),
                   servers[i].url.c_str(), stats[i].build_id.c_str());
    }
  }
  if (first_error) {
    return *std::move(first_error);
  }
  return results;
}

Result<> RunBake(const BakeFlags& flags, int& exit_code) {
  std::string list = flags.list;
  if (list.starts_with("type=")) {
    list = list.substr(5);
  }
  if (!list.empty() && list != "targets" && list != "variables") {
    exit_code = kExitUsage;
    return Error::InvalidArgument("invalid --list value " + QuoteString(flags.list) +
                                  " (targets or variables)");
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return Error::FromErrno("getcwd", errno);
  }
  std::vector<frontend::bake::BakeFile> files =
      BERTH_TRY(frontend::bake::ReadBakeFiles(flags.files, ""));
  frontend::bake::LoadOptions options;
  options.overrides = flags.sets;
  options.env = Environment();
  options.working_dir = cwd;
  options.local_platform = platform::HostPlatform().ToString();
  for (const std::string& v : flags.vars) {
    bool found = false;
    auto [name, value] = SplitOnce(v, '=', &found);
    if (!found) {
      exit_code = kExitUsage;
      return Error::InvalidArgument("invalid --var " + QuoteString(v) + ", expected NAME=VALUE");
    }
    options.vars[name] = value;
  }
  frontend::bake::Resolved resolved = BERTH_TRY(frontend::bake::Load(files, options));
  if (list == "targets") {
    std::fputs(frontend::bake::ListTargets(resolved.config).c_str(), stdout);
    return {};
  }
  if (list == "variables") {
    std::fputs(frontend::bake::ListVariables(resolved.variables).c_str(), stdout);
    return {};
  }
  frontend::bake::Selection selection = BERTH_TRY(frontend::bake::Resolve(resolved, flags.targets));
  if (flags.print) {
    std::fputs(frontend::bake::PrintJson(selection).c_str(), stdout);
    return {};
  }

  std::string root = BERTH_TRY(images::ResolveRootPath(flags.root));
  std::vector<engine::BuildOptions> builds;
  std::vector<std::string> checkouts;  // git contexts, removed when the bake ends
  ScopeExit remove_checkouts([&] {
    for (const std::string& dir : checkouts) {
      (void)snapshot::RemoveAll(dir);
    }
  });
  for (const auto& [name, target] : selection.targets) {
    Result<engine::BuildOptions> options = ToBuildOptions(target, flags, cwd, root, checkouts);
    if (!options.ok()) {
      exit_code = kExitUsage;
      std::string where = target.location.empty() ? "" : " (" + target.location + ")";
      return std::move(options).error().AddContext("target " + name + where);
    }
    builds.push_back(std::move(options).value());
  }
  if (builds.empty()) {
    return {};
  }
  int to_stdout = 0;
  for (const engine::BuildOptions& b : builds) {
    for (const engine::Output& out : b.outputs) {
      to_stdout += out.dest == "-" ? 1 : 0;
    }
  }
  if (to_stdout > 1) {
    exit_code = kExitUsage;
    return Error::InvalidArgument("output: only one target can write to stdout (dest=-)");
  }
  builds.front().progress_mode =
      BERTH_TRY(engine::ParseProgressMode(flags.progress, builds.front().progress));

  // Where to build: on berthd when a host is given (--host, BERTH_HOST), or when logged in and a
  // project applies (--project, BERTH_PROJECT, berth.json, a target's project_id); else here.
  client::Getenv env = client::ProcessEnv();
  Result<client::ProjectChoice> project = client::ResolveProject(flags.project, env, {cwd});
  if (!project.ok()) {
    exit_code = kExitUsage;
    return std::move(project).error();
  }
  std::vector<std::string> projects;
  bool any_project = !project->id.empty();
  for (const engine::BuildOptions& b : builds) {
    const frontend::bake::Target& t = selection.targets.at(b.name);
    projects.push_back(t.project_id.value_or(project->id));
    any_project = any_project || t.project_id.has_value();
  }
  bool explicit_host = !flags.host.empty() || !env("BERTH_HOST").empty();
  Result<client::Server> server = client::ResolveHost({flags.host, flags.token}, env);
  bool remote = explicit_host || (server.ok() && any_project);
  // The server and token of each target: one for all, except that an OIDC ID token standing
  // in for a berthd token is exchanged once per distinct project (a project token reaches only
  // its own project).
  std::vector<client::Server> servers;
  if (flags.save && !remote) {
    exit_code = kExitUsage;
    return Error::InvalidArgument(
        "--save keeps the images on berthd: it needs a server (--host, BERTH_HOST or berth "
        "login) and a project");
  }
  Context ctx = Context::Background().WithCancel();
  InterruptWatcher interrupt(ctx);
  if (remote) {
    for (size_t i = 0; i < builds.size(); ++i) {
      if (projects[i].empty()) {
        exit_code = kExitUsage;
        return Error::InvalidArgument("target " + builds[i].name +
                                      ": a remote build needs a project: --project, "
                                      "BERTH_PROJECT, a berth.json (berth init) or project_id");
      }
    }
    std::map<std::string, client::Server> by_project;
    for (const std::string& p : projects) {
      if (!by_project.contains(p)) {
        Result<client::Server> s =
            client::ResolveServerForProject(ctx, {flags.host, flags.token}, env, p);
        if (!s.ok()) {
          exit_code = ResolveExitCode(s.error());
          return std::move(s).error();
        }
        by_project.emplace(p, *std::move(s));
      }
      servers.push_back(by_project.at(p));
    }
  }

  std::vector<RemoteStats> stats;
  Result<std::vector<engine::BuildResult>> built =
      remote ? RemoteBake(ctx, servers, projects, builds, flags.save, false, stats)
             : engine::BuildAll(ctx, builds);
  if (!built.ok() && interrupt.signal() != 0) {
    exit_code = 130;
    return Error::Cancelled("build cancelled: " + built.error().ToString());
  }
  std::vector<engine::BuildResult> results = BERTH_TRY(std::move(built));
  std::map<std::string, engine::BuildResult> by_target;
  std::map<std::string, RemoteBuildInfo> remote_info;
  for (size_t i = 0; i < builds.size(); ++i) {
    if (builds[i].cache_only) {
      continue;
    }
    if (remote) {
      remote_info[builds[i].name] = {
          .build_id = stats[i].build_id, .project_id = projects[i], .saved = stats[i].saved};
      for (const std::string& saved : stats[i].saved) {
        std::fprintf(stderr, "%s: saved %s\n", builds[i].name.c_str(), saved.c_str());
      }
    }
    for (const std::string& tag : results[i].tags) {
      std::fprintf(stderr, "%s: naming to %s\n", builds[i].name.c_str(), tag.c_str());
    }
    for (const std::string& pushed : results[i].pushed) {
      std::fprintf(stderr, "%s: pushed %s\n", builds[i].name.c_str(), pushed.c_str());
    }
    by_target[builds[i].name] = results[i];
  }
  if (!flags.metadata_file.empty()) {
    BERTH_TRY_CONTEXT(
        os::WriteFileAtomic(flags.metadata_file,
                            BakeMetadataJson(by_target, remote ? &remote_info : nullptr)),
        "--metadata-file");
  }
  return {};
}

}  // namespace

void RegisterBakeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BakeFlags>();
  auto* bake = app.add_subcommand(
      "bake", "Build from a bake file (docker-bake.hcl, docker-bake.json, compose.yaml)");
  bake->add_option("TARGET", flags->targets, "Targets or groups to build (default: default)");
  bake->add_option("-f,--file", flags->files, "Build definition file (repeatable)")
      ->allow_extra_args(false);
  bake->add_option("--set", flags->sets,
                   "Override target value (e.g. targetpattern.key=value, key+=value appends)")
      ->allow_extra_args(false);
  bake->add_option("--var", flags->vars, "Set a variable (NAME=VALUE)")->allow_extra_args(false);
  bake->add_flag("--print", flags->print, "Print the options without building");
  bake->add_flag("--load", flags->load,
                 "Shorthand for --set=*.output=type=docker (the local store)");
  bake->add_flag("--push", flags->push, "Shorthand for --set=*.output=type=registry");
  bake->add_flag(
      "--save", flags->save,
      "Keep each target's image in berthd's registry as PROJECT:BUILD-ID (see berth pull)");
  bake->add_flag("--no-cache", flags->no_cache, "Do not use cache when building the images");
  bake->add_flag("--pull", flags->pull, "Always attempt to pull all referenced images");
  bake->add_option("--provenance", flags->provenance,
                   "Shorthand for --set=*.attest=type=provenance (true, false, min, max, or "
                   "attributes)");
  bake->add_option("--sbom", flags->sbom, "Shorthand for --set=*.attest=type=sbom (true or false)");
  bake->add_option("--progress", flags->progress,
                   "Progress output: auto (tty on a terminal, else plain), plain, tty, rawjson")
      ->default_str("auto");
  bake->add_option("--metadata-file", flags->metadata_file,
                   "Write build result metadata to a file (JSON, one object per target)");
  bake->add_option("--root", flags->root, "berth state directory (default: $BERTH_ROOT)");
  bake->add_option("--host", flags->host, "berthd to build on (default: $BERTH_HOST; none: here)");
  bake->add_option("--token", flags->token, "Token for berthd (default: $BERTH_TOKEN)");
  bake->add_option("--project", flags->project,
                   "berthd project (default: $BERTH_PROJECT, then berth.json; a target's "
                   "project_id wins)");
  bake->add_option("--list", flags->list, "List targets or variables (targets, variables)");
  bake->callback([flags, &exit_code] {
    if (Result<> r = RunBake(*flags, exit_code); !r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
      if (exit_code == 0) {
        exit_code = kExitFailed;
      }
    }
  });
}

}  // namespace berth::cmd
