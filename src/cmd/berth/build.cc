#include "cmd/berth/build.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "archive/apply.h"
#include "archive/tar_writer.h"
#include "base/error.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "base/strings.h"
#include "client/oidc_login.h"
#include "client/settings.h"
#include "cmd/berth/build_options.h"
#include "cmd/berth/flags.h"
#include "cmd/berth/interrupt.h"
#include "cmd/berth/remote_build.h"
#include "cmd/berth/url_context.h"
#include "compress/compress.h"
#include "engine/attest.h"
#include "engine/cache_io.h"
#include "engine/engine.h"
#include "engine/output.h"
#include "engine/sources.h"
#include "gitref/gitref.h"
#include "images/root.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"
#include "platform/platform.h"
#include "snapshot/fs_util.h"

namespace berth::cmd {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct BuildFlags {
  std::string context = ".";
  std::string file;  // "" = CONTEXT/Dockerfile
  std::vector<std::string> tags;
  std::vector<std::string> build_args;
  std::vector<std::string> build_contexts;
  std::string target;
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;
  std::vector<std::string> cache_from;
  std::vector<std::string> cache_to;
  std::vector<std::string> attests;
  std::string provenance;
  std::string sbom;
  bool pull = false;
  std::vector<std::string> labels;
  std::vector<std::string> annotations;
  std::string platform;
  std::vector<std::string> secrets;
  std::vector<std::string> ssh;
  std::string network;
  std::vector<std::string> add_hosts;
  std::vector<std::string> ulimits;
  std::string shm_size;
  std::vector<std::string> outputs;
  bool push = false;
  bool load = false;
  std::string iidfile;
  std::string metadata_file;
  // --save, --save-tag: keep the image in berthd's registry.
  bool save = false;
  std::vector<std::string> save_tags;
  bool quiet = false;
  std::string progress = "auto";
  std::string root;
  std::string runtime;
  // berthd: where to build (empty: here, on the embedded default).
  std::string host;
  std::string token;
  std::string project;
};

// The context given as "-": a tar (maybe compressed) is unpacked into `dir`; anything else is
// the Dockerfile itself, with an empty context.
Result<std::optional<std::string>> ReadStdinContext(const std::string& dir) {
  std::string data = BERTH_TRY_CONTEXT(os::ReadAll(STDIN_FILENO), "reading the context from stdin");
  StringReader raw(data);
  std::unique_ptr<compress::DecompressingReader> reader =
      BERTH_TRY_CONTEXT(compress::NewReader(raw), "reading the context from stdin");
  bool is_tar = reader->format() != compress::Format::kNone ||
                (data.size() >= 262 && data.compare(257, 5, "ustar") == 0);
  if (!is_tar) {
    return std::optional<std::string>(std::move(data));
  }
  BERTH_TRY_CONTEXT(
      archive::ApplyLayer(Context::Background(), *reader, dir, {.preserve_owners = false}),
      "unpacking the context tar from stdin");
  return std::optional<std::string>();
}

Result<> RunBuild(const BuildFlags& flags, int& exit_code) {
  engine::BuildOptions options;
  // Usage errors (bad flag values) exit 2.
  auto usage = [&](auto result) {
    if (!result.ok()) {
      exit_code = kExitUsage;
    }
    return result;
  };
  options.build_args = BERTH_TRY(usage(KeyValues(flags.build_args, "--build-arg", true)));
  options.labels = BERTH_TRY(usage(KeyValues(flags.labels, "--label", false)));
  options.build_contexts =
      BERTH_TRY(usage(KeyValues(flags.build_contexts, "--build-context", false)));
  options.annotations = BERTH_TRY(usage(ParseAnnotations(flags.annotations)));
  for (const std::string& s : flags.secrets) {
    auto [id, value] = BERTH_TRY(usage(ParseSecret(s)));
    options.secrets[id] = std::move(value);
  }
  for (const std::string& s : flags.ssh) {
    auto [id, path] = BERTH_TRY(usage(ParseSsh(s)));
    options.ssh[id] = std::move(path);
  }
  for (const std::string& u : flags.ulimits) {
    options.ulimits.push_back(BERTH_TRY(usage(ParseUlimit(u))));
  }
  if (!flags.shm_size.empty()) {
    options.shm_size =
        static_cast<uint64_t>(BERTH_TRY(usage(ParseByteSize("--shm-size", flags.shm_size))));
  }
  options.network = flags.network.empty() ? "default" : flags.network;
  if (options.network != "default" && options.network != "host" && options.network != "none") {
    exit_code = kExitUsage;
    return Error::InvalidArgument("--network " + options.network + ": want default, host or none");
  }
  options.extra_hosts = flags.add_hosts;
  options.outputs = BERTH_TRY(usage(ParseOutputs(flags.outputs, flags.push, flags.load)));
  int to_stdout = 0;
  for (const engine::Output& out : options.outputs) {
    to_stdout += out.dest == "-" ? 1 : 0;
  }
  if (!flags.platform.empty()) {
    platform::Platform want =
        BERTH_TRY_CONTEXT(platform::ParsePlatform(flags.platform), "--platform");
    if (!(want == platform::HostPlatform())) {
      return Error::Unimplemented("--platform " + want.ToString() + ": only the host platform (" +
                                  platform::HostPlatform().ToString() + ") can be built so far");
    }
  }
  options.root = BERTH_TRY(images::ResolveRootPath(flags.root));
  options.runtime = flags.runtime;

  std::string context = flags.context;
  std::string stdin_dir;
  ScopeExit remove_stdin_dir([&] {
    if (!stdin_dir.empty()) {
      (void)snapshot::RemoveAll(stdin_dir);
    }
  });
  std::optional<std::string> stdin_dockerfile;
  if (context == "-") {
    BERTH_TRY(os::MakeDirs(options.root + "/tmp", 0700));
    stdin_dir = options.root + "/tmp/context-XXXXXX";
    if (mkdtemp(stdin_dir.data()) == nullptr) {
      stdin_dir.clear();
      return Error::FromErrno("mkdtemp", errno);
    }
    stdin_dockerfile = BERTH_TRY(ReadStdinContext(stdin_dir));
    context = stdin_dir;
  } else if (Result<bool> git = IsGitContext(context); !git.ok() || *git) {
    // A git context: the ref's commit checked out (its subdir only, if one is named).
    if (!git.ok()) {
      exit_code = kExitUsage;
      return std::move(git).error();
    }
    stdin_dir = BERTH_TRY(CheckoutGitContext(options.root, context));
    context = stdin_dir;
  } else if (IsUrlContext(context)) {
    // An http(s) URL: a tarball, extracted, or a Dockerfile with an empty context.
    UrlContext fetched =
        BERTH_TRY(FetchUrlContext(Context::Background(), options.root, flags.context));
    stdin_dir = fetched.temp_dir;
    context = fetched.dir;
    stdin_dockerfile = std::move(fetched.dockerfile);
  }
  // Named contexts may be remote too: a git repository, or a tarball at an http(s) URL.
  std::vector<std::string> remote_dirs;
  ScopeExit remove_remote_dirs([&] {
    for (const std::string& dir : remote_dirs) {
      (void)snapshot::RemoveAll(dir);
    }
  });
  for (auto& [name, value] : options.build_contexts) {
    if (BERTH_TRY(usage(IsGitContext(value)))) {
      remote_dirs.push_back(
          BERTH_TRY_CONTEXT(CheckoutGitContext(options.root, value), "--build-context " + name));
      value = remote_dirs.back();
    } else if (IsUrlContext(value)) {
      UrlContext fetched = BERTH_TRY_CONTEXT(
          FetchUrlContext(Context::Background(), options.root, value, {.require_archive = true}),
          "--build-context " + name);
      remote_dirs.push_back(fetched.temp_dir);
      value = fetched.dir;
    }
  }

  std::string file = flags.file.empty() ? context + "/Dockerfile" : flags.file;
  bool remote_context = !stdin_dir.empty() && flags.context != "-";
  if (remote_context && !flags.file.empty() && flags.file != "-" && !flags.file.starts_with("/")) {
    // With a git or URL context, a relative -f names a file in it, as buildx has it.
    file = context + "/" + flags.file;
  }
  if (stdin_dockerfile && flags.file.empty()) {
    options.dockerfile_text = *stdin_dockerfile;
  } else if (file == "-") {
    options.dockerfile_text =
        BERTH_TRY_CONTEXT(os::ReadAll(STDIN_FILENO), "reading the Dockerfile from stdin");
    file = "Dockerfile";
  } else {
    options.dockerfile_text = BERTH_TRY_CONTEXT(os::ReadFile(file), "reading the Dockerfile");
  }
  options.dockerfile_name = file.substr(file.rfind('/') + 1);
  // <Dockerfile>.dockerignore beside the Dockerfile replaces the context's .dockerignore.
  options.context_excludes = BERTH_TRY(ReadIgnorePatterns(file, context));
  options.context = context;
  options.target = flags.target;
  options.tags = flags.tags;
  options.no_cache = flags.no_cache;
  options.no_cache_filter = flags.no_cache_filter;
  for (const std::string& spec : flags.cache_from) {
    BERTH_TRY(usage(engine::ParseCacheImport(spec)));
  }
  for (const std::string& spec : flags.cache_to) {
    BERTH_TRY(usage(engine::ParseCacheExport(spec)));
  }
  options.cache_from = flags.cache_from;
  options.cache_to = flags.cache_to;
  options.attests = flags.attests;
  if (!flags.provenance.empty()) {
    options.attests.push_back(BERTH_TRY(usage(engine::ProvenanceAttest(flags.provenance))));
  }
  if (!flags.sbom.empty()) {
    options.attests.push_back(BERTH_TRY(usage(engine::SbomAttest(flags.sbom))));
  }
  BERTH_TRY(usage(engine::ParseAttests(options.attests)));
  options.pull = flags.pull;
  if (flags.quiet) {
    options.progress = nullptr;
  } else {
    options.progress_mode =
        BERTH_TRY(usage(engine::ParseProgressMode(flags.progress, options.progress)));
  }
  options.source_date_epoch = BERTH_TRY(archive::SourceDateEpochFromEnv());
  Context ctx = Context::Background().WithCancel();
  InterruptWatcher interrupt(ctx);
  // Where to build: on berthd when a host is given (--host, BERTH_HOST), or when logged in and
  // a project applies (--project, BERTH_PROJECT, berth.json); else here.
  client::Getenv env = client::ProcessEnv();
  std::string dockerfile_dir =
      file.find('/') == std::string::npos ? std::string(".") : file.substr(0, file.rfind('/'));
  client::ProjectChoice project = BERTH_TRY(usage(client::ResolveProject(
      flags.project, env, {flags.context == "-" ? "." : flags.context, dockerfile_dir})));
  bool explicit_host = !flags.host.empty() || !env("BERTH_HOST").empty();
  Result<client::Server> server = client::ResolveHost({flags.host, flags.token}, env);
  bool remote = explicit_host || (server.ok() && !project.id.empty());
  Result<engine::BuildResult> built = Error::Internal("unset");
  RemoteStats stats;
  std::optional<RemoteBuildInfo> remote_info;
  if ((flags.save || !flags.save_tags.empty()) && !remote) {
    exit_code = kExitUsage;
    return Error::InvalidArgument(
        "--save keeps the image on berthd: it needs a server (--host, BERTH_HOST or berth "
        "login) and a project");
  }
  if (remote) {
    if (project.id.empty()) {
      exit_code = kExitUsage;
      return Error::InvalidArgument(
          "a remote build needs a project: --project, BERTH_PROJECT or a berth.json (berth "
          "init)");
    }
    // Without a berthd token, a CI job's OIDC ID token is exchanged for one of the project.
    Result<client::Server> server_token =
        client::ResolveServerForProject(ctx, {flags.host, flags.token}, env, project.id);
    if (!server_token.ok()) {
      exit_code = ResolveExitCode(server_token.error());
      return std::move(server_token).error();
    }
    const client::Server& resolved = *server_token;
    if (!flags.runtime.empty()) {
      exit_code = kExitUsage;
      return Error::InvalidArgument(
          "--runtime: a remote build runs in the runtime berthd is configured with");
    }
    RemoteTarget target{.host = resolved.url,
                        .token = resolved.token,
                        .project = project.id,
                        .save = flags.save || !flags.save_tags.empty(),
                        .save_tags = flags.save_tags};
    built = RemoteBuild(ctx, target, options, &stats);
    remote_info =
        RemoteBuildInfo{.build_id = stats.build_id, .project_id = project.id, .saved = stats.saved};
    if (!flags.quiet && !stats.build_id.empty()) {
      std::fprintf(stderr, "remote build %s: %llu context file(s) sent, %llu bytes\n",
                   stats.build_id.c_str(), static_cast<unsigned long long>(stats.files_sent),
                   static_cast<unsigned long long>(stats.wire_bytes));
      if (std::getenv("BERTH_NO_SUMMARY_LINK") == nullptr) {
        std::fprintf(stderr, "build record: %s/api/v1/builds/%s\n", resolved.url.c_str(),
                     stats.build_id.c_str());
      }
    }
  } else {
    built = engine::Build(ctx, options);
  }
  if (!built.ok() && interrupt.signal() != 0) {
    exit_code = 130;
    return Error::Cancelled("build cancelled: " + built.error().ToString());
  }
  engine::BuildResult result = BERTH_TRY(std::move(built));
  if (!flags.quiet) {
    for (const std::string& tag : result.tags) {
      std::fprintf(stderr, "naming to %s\n", tag.c_str());
    }
    for (const std::string& pushed : result.pushed) {
      std::fprintf(stderr, "pushed %s\n", pushed.c_str());
    }
    for (const std::string& saved : stats.saved) {
      std::fprintf(stderr, "saved %s\n", saved.c_str());
    }
    if (!stats.saved.empty()) {
      std::fprintf(stderr, "pull it with: berth pull %s --project %s\n", stats.build_id.c_str(),
                   remote_info->project_id.c_str());
    }
  }
  if (!flags.iidfile.empty()) {
    if (result.config_digest.empty()) {
      return Error::InvalidArgument("--iidfile: the build made no image (see --output)");
    }
    BERTH_TRY_CONTEXT(os::WriteFileAtomic(flags.iidfile, result.config_digest), "--iidfile");
  }
  if (!flags.metadata_file.empty()) {
    BERTH_TRY_CONTEXT(
        os::WriteFileAtomic(flags.metadata_file,
                            MetadataJson(result, remote_info ? &*remote_info : nullptr)),
        "--metadata-file");
  }
  if (to_stdout == 0) {
    // -q prints the image ID (the config digest), as `docker build -q` does.
    std::string line = flags.quiet ? result.config_digest : result.manifest_digest;
    if (!line.empty()) {
      std::printf("%s\n", line.c_str());
    }
  }
  return {};
}

}  // namespace

void RegisterBuildCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BuildFlags>();
  auto* build = app.add_subcommand("build", "Build an image from a Dockerfile");
  build->add_option("CONTEXT", flags->context, "Build context directory")->required();
  build->add_option("-f,--file", flags->file,
                    "Name of the Dockerfile (default: CONTEXT/Dockerfile)");
  build->add_option("-t,--tag", flags->tags, "Name and optionally a tag (name:tag)")
      ->allow_extra_args(false);
  build->add_option("--build-arg", flags->build_args, "Set build-time variables (KEY=VALUE)")
      ->allow_extra_args(false);
  build->add_option("--target", flags->target, "Set the target build stage");
  build->add_flag("--no-cache", flags->no_cache, "Do not use cache when building the image");
  build
      ->add_option("--progress", flags->progress,
                   "Progress output: auto (tty on a terminal, else plain), plain, tty, rawjson")
      ->default_str("auto");
  build->add_option("--root", flags->root, "berth state directory (default: $BERTH_ROOT)");
  build->add_option("--runtime", flags->runtime,
                    "OCI runtime for RUN: runc, crun or a path (default: config.toml's "
                    "[executor] runtime, else runc)");
  build->add_option("--label", flags->labels, "Set metadata for an image (KEY=VALUE)")
      ->allow_extra_args(false);
  build->add_option("--no-cache-filter", flags->no_cache_filter, "Do not cache specified stages")
      ->allow_extra_args(false);
  build
      ->add_option("--cache-from", flags->cache_from,
                   "External cache sources (type=registry,ref=REF | type=local,src=DIR)")
      ->allow_extra_args(false);
  build
      ->add_option("--cache-to", flags->cache_to,
                   "Cache export destinations (type=registry,ref=REF | type=local,dest=DIR"
                   "[,mode=max])")
      ->allow_extra_args(false);
  build
      ->add_option("--attest", flags->attests,
                   "Attestation parameters (type=provenance[,mode=max] | type=sbom)")
      ->allow_extra_args(false);
  build->add_option(
      "--provenance", flags->provenance,
      "Shorthand for --attest=type=provenance (true, false, min, max, or attributes)");
  build->add_option("--sbom", flags->sbom, "Shorthand for --attest=type=sbom (true or false)");
  build->add_option("--platform", flags->platform, "Target platform (the host's only, so far)");
  build->add_option("--iidfile", flags->iidfile, "Write the image ID (config digest) to the file");
  build->add_flag("-q,--quiet", flags->quiet, "Suppress the build output and print the image ID");
  build
      ->add_option("--build-context", flags->build_contexts,
                   "Additional build contexts (NAME=DIR or NAME=docker-image://REF)")
      ->allow_extra_args(false);
  build->add_flag("--pull", flags->pull, "Always attempt to pull all referenced images");
  build->add_option("--annotation", flags->annotations, "Add an annotation to the image manifest")
      ->allow_extra_args(false);
  build
      ->add_option("--secret", flags->secrets,
                   "Secret to expose to the build (id=ID[,src=FILE|,env=VAR])")
      ->allow_extra_args(false);
  build
      ->add_option("--ssh", flags->ssh,
                   "SSH agent socket to expose to the build (default|ID[=SOCKET])")
      ->allow_extra_args(false);
  build->add_option("--network", flags->network, "Networking mode for RUN: default, host, none");
  build->add_option("--add-host", flags->add_hosts, "Add a custom host-to-IP mapping (HOST:IP)")
      ->allow_extra_args(false);
  build->add_option("--ulimit", flags->ulimits, "Ulimit options (NAME=SOFT[:HARD])")
      ->allow_extra_args(false);
  build->add_option("--shm-size", flags->shm_size, "Size of /dev/shm for RUN (e.g. 128m)");
  build
      ->add_option("-o,--output", flags->outputs,
                   "Output destination (type=image|registry|oci|docker|local|tar,...; DIR; -)")
      ->allow_extra_args(false);
  build->add_flag("--push", flags->push, "Shorthand for --output=type=registry");
  build->add_flag("--load", flags->load, "Shorthand for --output=type=docker (the local store)");
  build->add_option("--host", flags->host, "berthd to build on (default: $BERTH_HOST; none: here)");
  build->add_option("--token", flags->token, "Token for berthd (default: $BERTH_TOKEN)");
  build->add_option("--project", flags->project,
                    "berthd project (default: $BERTH_PROJECT, then berth.json)");
  build->add_option("--metadata-file", flags->metadata_file,
                    "Write build result metadata to a file (JSON)");
  build->add_flag("--save", flags->save,
                  "Keep the image in berthd's registry as PROJECT:BUILD-ID (see berth pull)");
  build
      ->add_option("--save-tag", flags->save_tags,
                   "Also tag the saved image in the project's repository (implies --save)")
      ->allow_extra_args(false);
  build->callback([flags, &exit_code] {
    if (Result<> r = RunBuild(*flags, exit_code); !r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
      if (exit_code == 0) {
        exit_code = kExitFailed;
      }
    }
  });
}

}  // namespace berth::cmd
