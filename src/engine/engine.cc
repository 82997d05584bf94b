#include "engine/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "archive/tar_writer.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "base/strings.h"
#include "base/version.h"
#include "cache/sqlite_index.h"
#include "content/lease.h"
#include "engine/attest.h"
#include "engine/cache_admin.h"
#include "engine/cache_io.h"
#include "engine/config.h"
#include "engine/exporter.h"
#include "engine/progress.h"
#include "engine/resolver.h"
#include "engine/runner.h"
#include "executor/runc_executor.h"
#include "frontend/dockerfile/convert/convert.h"
#include "images/blob_source.h"
#include "images/root.h"
#include "images/save.h"
#include "oci/layout.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"
#include "platform/platform.h"
#include "reference/reference.h"
#include "registry/client.h"
#include "registry/transfer.h"
#include "sbom/sbom.h"
#include "snapshot/overlay_snapshotter.h"
#include "solver/solver.h"

namespace berth::engine {

namespace convert = frontend::dockerfile::convert;

namespace {

constexpr std::string_view kImageContext = "docker-image://";

// A named local context: its directory and its own .dockerignore.
Result<LocalContext> OpenLocalContext(const std::string& name, const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::InvalidArgument("--build-context " + name + "=" + dir +
                                  ": not a directory (or docker-image://REF)");
  }
  LocalContext local{.dir = dir, .excludes = {}};
  std::string ignore = dir + "/.dockerignore";
  if (os::Exists(ignore)) {
    std::string text = BERTH_TRY(os::ReadFile(ignore));
    local.excludes = BERTH_TRY_CONTEXT(patternmatcher::ReadIgnoreFile(text), "reading " + ignore);
  }
  return local;
}

// Writes a stream output: to `out` for "-", else to a temporary file beside `dest` that is
// renamed over it once complete, so a failed build never leaves half a file under the name.
Result<> WriteStream(const std::string& dest, FILE* out,
                     const std::function<Result<>(Writer&)>& write) {
  if (dest == "-") {
    if (out == nullptr) {
      return Error::InvalidArgument("dest=-: no standard output to write to");
    }
    std::fflush(out);
    FdWriter writer(fileno(out));
    BERTH_TRY(write(writer));
    return {};
  }
  std::string tmp = dest + ".berth-tmp-XXXXXX";
  int raw = mkstemp(tmp.data());
  if (raw < 0) {
    return Error::FromErrno("creating " + dest, errno);
  }
  UniqueFd fd(raw);
  ScopeExit remove_tmp([&] { (void)unlink(tmp.c_str()); });
  FdWriter writer(fd.get());
  BERTH_TRY(write(writer));
  if (::fchmod(fd.get(), 0644) != 0 || ::fsync(fd.get()) != 0) {
    return Error::FromErrno("writing " + dest, errno);
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    return Error::FromErrno("renaming to " + dest, errno);
  }
  return {};
}

void AddName(std::vector<std::string>& names, const std::string& name) {
  if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
    names.push_back(name);
  }
}

bool IsImageOutput(const Output& out) {
  return out.type == OutputType::kImage || out.type == OutputType::kOci ||
         out.type == OutputType::kDocker;
}

}  // namespace

Result<size_t> UnpackStoredImage(const Context& ctx, const std::string& root_path,
                                 const std::string& name) {
  std::unique_ptr<images::Root> root = BERTH_TRY(images::Root::Open(root_path));
  std::string normalized = BERTH_TRY(images::NormalizeName(name));
  images::Image stored = BERTH_TRY(root->images().Get(ctx, normalized));
  LoadedImage image = BERTH_TRY(
      LoadImage(ctx, root->content(), normalized, stored.target, platform::HostPlatform()));
  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter =
      BERTH_TRY(snapshot::OverlaySnapshotter::Open(root->path() + "/snapshots"));
  std::unique_ptr<cache::SqliteIndex> index =
      BERTH_TRY(cache::SqliteIndex::Open({.path = root->path() + "/cache.db"}));
  BERTH_TRY(UnpackImage(ctx, *snapshotter, *index, root->content(), image));
  return image.manifest.layers.size();
}

namespace {

constexpr std::string_view kTargetContext = "target:";

// What the builds of one BuildAll share: the stores, the cache, the solver and the renderer.
struct Session {
  std::unique_ptr<images::Root> root;
  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter;
  std::unique_ptr<cache::SqliteIndex> index;
  std::unique_ptr<executor::RuncExecutor> executor;
  std::unique_ptr<IndexCache> cache;
  std::unique_ptr<CacheImporter> importer;  // --cache-from, when any build has one
  std::unique_ptr<solver::Solver> solver;
  std::unique_ptr<Renderer> own_renderer;
  Renderer* renderer = nullptr;
  StepNumbers numbers;
  ContextChecksums checksums;  // each context is read once for all the builds
};

// One build of a BuildAll, from conversion to its solved result.
struct Target {
  const BuildOptions* options = nullptr;
  std::unique_ptr<StoreResolver> resolver;
  convert::ConvertResult converted;
  std::unique_ptr<Progress> progress;
  std::unique_ptr<Runner> runner;
  std::string top;  // the solved result's snapshot
  std::optional<ExportedImage> image;
  AttestOptions attest;
  std::optional<oci::Descriptor> attested;  // the index with the attestations, once made
  int64_t started = 0;                      // Unix seconds, for provenance
  int64_t finished = 0;
  // The cache keys of the steps this build solved (made or cached), for --cache-to.
  std::mutex keys_mu;
  std::vector<std::string> keys;
  // Set once the build is solved (and exported, when another build reads it as a context).
  bool done = false;
  bool failed = false;
};

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Converts and solves `t`. `linked` maps target:NAME contexts to the images they resolved to.
Result<> SolveTarget(const Context& ctx, Session& s, Target& t,
                     const std::map<std::string, std::string>& linked) {
  const BuildOptions& options = *t.options;
  t.started = UnixNow();
  t.resolver = std::make_unique<StoreResolver>(ctx, s.root->content(), s.root->images(),
                                               s.root->path(), options.pull, options.project);
  RunnerEnv env;
  env.contexts["context"] =
      LocalContext{.dir = options.context, .excludes = options.context_excludes};
  std::map<std::string, std::string> build_contexts;
  for (const auto& [name, value] : options.build_contexts) {
    if (name.empty() || name == "context") {
      return Error::InvalidArgument("--build-context " + name + "=" + value +
                                    ": the name must not be empty or \"context\"");
    }
    if (value.starts_with(kTargetContext)) {
      build_contexts[name] = linked.at(value.substr(kTargetContext.size()));
      continue;
    }
    build_contexts[name] = value;
    if (!value.starts_with(kImageContext)) {
      env.contexts[name] = BERTH_TRY(OpenLocalContext(name, value));
    }
  }

  convert::Options convert_options;
  convert_options.file_name = options.dockerfile_name;
  convert_options.build_args = options.build_args;
  convert_options.target = options.target;
  convert_options.no_cache = options.no_cache;
  convert_options.no_cache_filter = options.no_cache_filter;
  convert_options.labels = options.labels;
  convert_options.context_excludes = options.context_excludes;
  convert_options.build_contexts = build_contexts;
  convert_options.resolver = t.resolver.get();
  convert_options.extra_hosts = options.extra_hosts;
  if (options.network == "none") {
    convert_options.network = graph::NetworkMode::kNone;
  } else if (options.network == "host") {
    convert_options.network = graph::NetworkMode::kHost;
  } else if (options.network != "default" && !options.network.empty()) {
    return Error::InvalidArgument("--network " + options.network + ": want default, host or none");
  }
  t.converted = BERTH_TRY(convert::Convert(options.dockerfile_text, convert_options));
  FILE* warn = s.renderer != nullptr ? options.progress : nullptr;
  std::string prefix = options.name.empty() ? "" : "[" + options.name + "] ";
  for (const convert::Warning& w : t.converted.warnings) {
    if (warn == nullptr) {
      break;
    }
    if (w.line > 0) {
      std::fprintf(warn, "%swarning: %s:%d: %s\n", prefix.c_str(), options.dockerfile_name.c_str(),
                   w.line, w.message.c_str());
    } else {
      std::fprintf(warn, "%swarning: %s\n", prefix.c_str(), w.message.c_str());
    }
  }

  t.progress = std::make_unique<Progress>(t.converted.graph, s.renderer, options.name, &s.numbers);
  // The size of a step's layer, as the cache index recorded it when the step's result was put.
  t.progress->set_layer_size(
      [cache = s.cache.get()](const std::string& key) { return cache->LayerSize(key); });
  env.snapshotter = s.snapshotter.get();
  env.executor = s.executor.get();
  env.index = s.index.get();
  env.content = &s.root->content();
  env.resolver = t.resolver.get();
  env.graph = &t.converted.graph;
  env.progress = t.progress.get();
  env.root = s.root->path();
  env.source_date_epoch = options.source_date_epoch;
  env.secrets = options.secrets;
  env.ssh = options.ssh;
  env.shm_size = options.shm_size;
  env.project = options.project;
  env.checksums = &s.checksums;
  for (const Ulimit& u : options.ulimits) {
    std::string type = BERTH_TRY_CONTEXT(executor::RlimitType(u.name), "--ulimit");
    env.rlimits.push_back({.type = type,
                           .soft = static_cast<uint64_t>(u.soft),
                           .hard = static_cast<uint64_t>(u.hard)});
  }
  t.runner = std::make_unique<Runner>(std::move(env));
  Progress* progress = t.progress.get();
  auto on_event = [progress, &t](const solver::VertexEvent& e) {
    progress->Event(e);
    bool solved =
        e.kind == solver::VertexEvent::Kind::kCached || e.kind == solver::VertexEvent::Kind::kDone;
    if (solved && !e.cache_key.empty()) {
      std::lock_guard lock(t.keys_mu);
      t.keys.push_back(e.cache_key);
    }
  };
  solver::VertexResult result = BERTH_TRY(s.solver->Solve(
      ctx, t.converted.graph, t.converted.target,
      {.parallelism = options.parallelism, .progress = on_event, .runner = t.runner.get()}));
  t.finished = UnixNow();
  t.top = result.outputs.empty() ? "" : result.outputs[0];
  if (IsContextRef(t.top)) {
    return Error::Unimplemented("exporting a build context itself as the result");
  }
  return {};
}

// The image of `t` in the content store, exported once.
Result<ExportedImage> TargetImage(const Context& ctx, Session& s, Target& t,
                                  const std::vector<Output>& outputs) {
  if (t.image) {
    return *t.image;
  }
  std::map<std::string, std::string> annotations = t.options->annotations;
  for (const Output& o : outputs) {
    annotations.insert(o.annotations.begin(), o.annotations.end());
  }
  t.image = BERTH_TRY_CONTEXT(
      ExportImage(ctx,
                  {.snapshotter = s.snapshotter.get(),
                   .index = s.index.get(),
                   .content = &s.root->content()},
                  t.top, t.converted.config, annotations, t.options->source_date_epoch),
      "exporting the image");
  return *t.image;
}

// The SPDX document of the packages in `t`'s result.
Result<std::string> ScanImage(const Context& ctx, Session& s, Target& t,
                              const std::vector<std::string>& subjects) {
  std::string spdx;
  BERTH_TRY(WithView(
      ctx, *s.snapshotter, s.root->path() + "/tmp", t.top, [&](const std::string& dir) -> Result<> {
        sbom::ScanResult scan = BERTH_TRY(sbom::ScanRootfs(ctx, dir));
        std::string name = subjects.empty() ? "image" : subjects.front();
        spdx = sbom::SpdxJson(scan, name, t.options->source_date_epoch.value_or(t.finished),
                              BERTH_VERSION);
        return {};
      }));
  return spdx;
}

// The index of `t`'s image with its attestations (see attest.h), made once.
Result<oci::Descriptor> AttestedImage(const Context& ctx, Session& s, Target& t,
                                      const std::vector<Output>& outputs,
                                      const ExportedImage& image) {
  if (t.attested) {
    return *t.attested;
  }
  const BuildOptions& options = *t.options;
  BuildFacts facts;
  for (const Output& out : outputs) {
    if (IsImageOutput(out)) {
      for (const std::string& name : out.names) {
        AddName(facts.subjects, BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name));
      }
    }
  }
  facts.dockerfile_name = options.dockerfile_name;
  facts.build_args = options.build_args;
  facts.labels = options.labels;
  facts.target = options.target;
  facts.platform = image.manifest.platform ? image.manifest.platform->ToString()
                                           : platform::HostPlatform().ToString();
  facts.started = t.started;
  facts.finished = t.finished;
  // The Dockerfile, secret and ssh ids and steps reach the statement in mode=max only.
  facts.dockerfile_text = options.dockerfile_text;
  facts.secret_ids = t.converted.secrets;
  facts.ssh_ids = t.converted.ssh;
  DescribeGraph(t.converted.graph, t.converted.target, t.runner->ResolvedCommits(), facts);
  std::vector<Statement> statements;
  if (t.attest.provenance) {
    statements.push_back(ProvenanceStatement(t.attest, facts, image.manifest));
  }
  if (t.attest.sbom) {
    std::string spdx = BERTH_TRY_CONTEXT(ScanImage(ctx, s, t, facts.subjects), "making the SBOM");
    statements.push_back(SbomStatement(facts.subjects, spdx, image.manifest));
  }
  // Kept a day, as the image itself (ExportImage), unless the caller names it.
  content::ScopedLease lease = BERTH_TRY(content::ScopedLease::Create(
      ctx, s.root->content().leases(), {.ttl = std::chrono::hours(24)}));
  t.attested = BERTH_TRY_CONTEXT(
      AttachAttestations(ctx, s.root->content(), lease.id(), image.manifest, statements),
      "storing the attestations");
  lease.Release();
  return *t.attested;
}

// The outputs of a solved build: the image store, registries, archives, directories.
Result<BuildResult> ExportTarget(const Context& ctx, Session& s, Target& t) {
  const BuildOptions& options = *t.options;
  std::vector<Output> outputs = options.outputs;
  if (outputs.empty()) {
    outputs.push_back(Output{.type = OutputType::kImage});
  }
  for (Output& out : outputs) {
    if (IsImageOutput(out) && out.names.empty()) {
      out.names = options.tags;
    }
  }
  images::Root* root = s.root.get();
  snapshot::OverlaySnapshotter* snapshotter = s.snapshotter.get();
  const std::string& top = t.top;
  std::optional<ExportedImage> image;
  BuildResult out;
  // What image outputs name: the image manifest, or the index holding it and its
  // attestations. A docker archive cannot hold an index: it gets the image alone.
  oci::Descriptor named;
  for (const Output& output : outputs) {
    if (IsImageOutput(output) && !image) {
      image = BERTH_TRY(TargetImage(ctx, s, t, outputs));
      named = image->manifest;
      bool indexable = std::any_of(outputs.begin(), outputs.end(), [](const Output& o) {
        return IsImageOutput(o) && !(o.type == OutputType::kDocker && !o.dest.empty());
      });
      if (t.attest.any() && indexable) {
        named = BERTH_TRY(AttestedImage(ctx, s, t, outputs, *image));
      }
      out.manifest_digest = named.digest.ToString();
      out.config_digest = image->config.digest.ToString();
      out.manifest_size = named.size;
      out.manifest_media_type = named.media_type;
      if (image->manifest.platform) {
        out.platform = image->manifest.platform->ToString();
      }
    }
    std::string what = "exporting to " + std::string(OutputTypeName(output.type));
    switch (output.type) {
      case OutputType::kImage:
      case OutputType::kDocker: {
        if (output.type == OutputType::kDocker && !output.dest.empty()) {
          std::vector<images::Image> list;
          for (const std::string& name : output.names) {
            list.push_back({.name = BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name),
                            .target = image->manifest});
          }
          if (list.empty()) {
            list.push_back({.name = "", .target = image->manifest});
          }
          for (const images::Image& i : list) {
            AddName(out.tags, i.name);
          }
          BERTH_TRY_CONTEXT(WriteStream(output.dest, options.stdout_stream,
                                        [&](Writer& w) {
                                          return images::SaveImages(ctx, root->content(), list,
                                                                    images::SaveFormat::kDocker, w);
                                        }),
                            what + " " + output.dest);
          break;
        }
        std::vector<reference::Reference> refs;
        for (const std::string& name : output.names) {
          std::string normalized = BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name);
          // A berthd project's names stay in its own namespace of the builder's store.
          BERTH_TRY(root->images().Put(ctx, ProjectImageName(options.project, normalized), named));
          AddName(out.tags, normalized);
          refs.push_back(BERTH_TRY(reference::ParseNormalized(normalized)));
        }
        if (output.push) {
          std::unique_ptr<registry::Client> client =
              BERTH_TRY(registry::Client::FromEnvironment(root->path()));
          images::ContentBlobSource source(ctx, root->content());
          if (options.progress != nullptr) {
            for (const reference::Reference& ref : refs) {
              std::fprintf(options.progress, "pushing %s\n", ref.Familiar().c_str());
            }
          }
          BERTH_TRY_CONTEXT(registry::Push(ctx, *client, source, named, refs), "pushing the image");
          for (const reference::Reference& ref : refs) {
            out.pushed.push_back(ref.String());
          }
        }
        break;
      }
      case OutputType::kOci: {
        std::vector<images::Image> list;
        for (const std::string& name : output.names) {
          list.push_back({.name = BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name),
                          .target = named});
        }
        if (list.empty()) {
          list.push_back({.name = "", .target = named});
        }
        for (const images::Image& i : list) {
          AddName(out.tags, i.name);
        }
        if (!output.tar) {
          images::ContentBlobSource blobs(ctx, root->content());
          std::vector<oci::LayoutEntry> entries;
          for (const images::Image& i : list) {
            reference::Reference ref;
            if (!i.name.empty()) {
              ref = BERTH_TRY(reference::ParseNormalized(i.name));
            }
            entries.push_back({.descriptor = i.target, .ref_name = ref.tag, .image_name = i.name});
          }
          BERTH_TRY_CONTEXT(oci::WriteLayoutDir(output.dest, blobs, entries),
                            what + " " + output.dest);
          break;
        }
        BERTH_TRY_CONTEXT(WriteStream(output.dest, options.stdout_stream,
                                      [&](Writer& w) {
                                        return images::SaveImages(ctx, root->content(), list,
                                                                  images::SaveFormat::kOci, w);
                                      }),
                          what + " " + output.dest);
        break;
      }
      case OutputType::kLocal:
        BERTH_TRY_CONTEXT(ExportFiles(ctx, *snapshotter, root->path() + "/tmp", top, output.dest),
                          what + " " + output.dest);
        break;
      case OutputType::kTar:
        BERTH_TRY_CONTEXT(WriteStream(output.dest, options.stdout_stream,
                                      [&](Writer& w) {
                                        return ExportTar(ctx, *snapshotter, root->path() + "/tmp",
                                                         top, options.source_date_epoch, w);
                                      }),
                          what + " " + output.dest);
        break;
    }
  }
  return out;
}

// What --cache-to exports of `t`: with `max`, every step the build solved that left a snapshot;
// else only those whose snapshot is a layer of the result.
Result<std::vector<CacheResult>> CacheResults(const Context& ctx, Session& s, Target& t, bool max) {
  std::set<std::string> in_result;
  if (!max) {
    for (const std::string& name : BERTH_TRY(SnapshotChain(ctx, *s.snapshotter, t.top))) {
      in_result.insert(name);
    }
  }
  std::vector<std::string> keys;
  {
    std::lock_guard lock(t.keys_mu);
    keys = t.keys;
  }
  std::vector<CacheResult> results;
  for (const std::string& key : keys) {
    Result<cache::Record> record = s.index->Lookup(ctx, t.options->project, key);
    if (!record.ok()) {
      if (record.error().code() == ErrorCode::kNotFound) {
        continue;  // not a snapshot (scratch, the context), or evicted meanwhile
      }
      return std::move(record).error();
    }
    if (max || in_result.count(record->snapshot) != 0) {
      results.push_back(
          {.key = key, .snapshot = record->snapshot, .description = record->description});
    }
  }
  return results;
}

// Writes `t`'s --cache-to exports; a failure with ignore-error=true is a warning.
Result<> ExportCaches(const Context& ctx, Session& s, Target& t,
                      const std::vector<CacheSpec>& specs) {
  const BuildOptions& options = *t.options;
  std::string prefix = options.name.empty() ? "" : "[" + options.name + "] ";
  for (const CacheSpec& spec : specs) {
    Result<size_t> written = [&]() -> Result<size_t> {
      std::vector<CacheResult> results = BERTH_TRY(CacheResults(ctx, s, t, spec.max));
      return ExportCache(ctx,
                         {.snapshotter = s.snapshotter.get(),
                          .index = s.index.get(),
                          .content = &s.root->content()},
                         s.root->path(), results, spec, options.source_date_epoch);
    }();
    if (!written.ok()) {
      if (!spec.ignore_error) {
        return std::move(written).error().AddContext("exporting the cache");
      }
      if (options.progress != nullptr) {
        std::fprintf(options.progress, "%swarning: --cache-to %s: %s\n", prefix.c_str(),
                     spec.text.c_str(), written.error().ToString().c_str());
      }
      continue;
    }
    if (options.progress != nullptr) {
      std::fprintf(options.progress, "%sexported cache to %s (%zu steps)\n", prefix.c_str(),
                   spec.type == CacheSpec::Type::kLocal ? spec.dir.c_str() : spec.ref.c_str(),
                   *written);
    }
  }
  return {};
}

}  // namespace

Result<std::vector<BuildResult>> BuildAll(const Context& parent,
                                          const std::vector<BuildOptions>& builds) {
  if (builds.empty()) {
    return std::vector<BuildResult>{};
  }
  const BuildOptions& first = builds.front();
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < builds.size(); ++i) {
    by_name.emplace(builds[i].name, i);
    for (const Output& out : builds[i].outputs) {
      if (out.type == OutputType::kImage && out.push && out.names.empty() &&
          builds[i].tags.empty()) {
        return Error::InvalidArgument(
            (builds[i].name.empty() ? "" : "target " + builds[i].name + ": ") +
            "--push / type=registry: no image name to push (use -t NAME)");
      }
    }
  }
  // Which builds each waits for (target:NAME contexts); a cycle would wait forever.
  std::vector<std::vector<size_t>> deps(builds.size());
  for (size_t i = 0; i < builds.size(); ++i) {
    for (const auto& [name, value] : builds[i].build_contexts) {
      if (!value.starts_with(kTargetContext)) {
        continue;
      }
      std::string other = value.substr(kTargetContext.size());
      auto it = by_name.find(other);
      if (it == by_name.end() || it->second == i) {
        return Error::InvalidArgument("build context " + name + "=" + value + ": no target " +
                                      QuoteString(other) + " among those being built");
      }
      deps[i].push_back(it->second);
    }
  }
  {
    std::vector<int> state(builds.size(), 0);  // 0 new, 1 visiting, 2 done
    std::function<Result<>(size_t)> visit = [&](size_t i) -> Result<> {
      if (state[i] == 2) {
        return {};
      }
      if (state[i] == 1) {
        return Error::InvalidArgument("build contexts form a cycle through target " +
                                      QuoteString(builds[i].name));
      }
      state[i] = 1;
      for (size_t d : deps[i]) {
        BERTH_TRY(visit(d));
      }
      state[i] = 2;
      return {};
    };
    for (size_t i = 0; i < builds.size(); ++i) {
      BERTH_TRY(visit(i));
    }
  }

  // Cache specs are checked before anything is built.
  std::vector<CacheSpec> imports;
  std::vector<std::vector<CacheSpec>> exports(builds.size());
  std::vector<AttestOptions> attests(builds.size());
  {
    std::set<std::string> seen;
    for (size_t i = 0; i < builds.size(); ++i) {
      std::string where = builds[i].name.empty() ? "" : "target " + builds[i].name;
      for (const std::string& spec : builds[i].cache_from) {
        CacheSpec parsed = BERTH_TRY_CONTEXT(ParseCacheImport(spec), where);
        if (seen.insert(spec).second) {
          imports.push_back(std::move(parsed));
        }
      }
      for (const std::string& spec : builds[i].cache_to) {
        exports[i].push_back(BERTH_TRY_CONTEXT(ParseCacheExport(spec), where));
      }
      attests[i] = BERTH_TRY_CONTEXT(ParseAttests(builds[i].attests), where);
    }
  }

  Session s;
  s.root = BERTH_TRY(images::Root::Open(first.root));
  s.snapshotter = BERTH_TRY(snapshot::OverlaySnapshotter::Open(s.root->path() + "/snapshots"));
  s.index = BERTH_TRY(cache::SqliteIndex::Open({.path = s.root->path() + "/cache.db"}));
  // Each runtime keeps its container state apart (runc and crun do not read each other's).
  std::string runtime =
      BERTH_TRY(ChooseRuntime(first.runtime, BERTH_TRY(LoadEngineConfig(s.root->path()))));
  std::string state = runtime.substr(runtime.rfind('/') + 1);
  s.executor = BERTH_TRY(executor::RuncExecutor::Create(
      {.state_dir = s.root->path() + "/" + (state == "runc" ? "runc" : "runtime-" + state),
       .bundle_dir = s.root->path() + "/bundles",
       .runtime = runtime}));
  s.cache = std::make_unique<IndexCache>(*s.index, *s.snapshotter, s.root->path() + "/locks",
                                         first.project);
  if (!imports.empty()) {
    s.importer = std::make_unique<CacheImporter>(s.root->content(), *s.snapshotter, *s.index,
                                                 s.root->path());
    for (const CacheSpec& spec : imports) {
      // As with buildx, a cache that cannot be read (not there yet, say) is only a warning.
      Result<size_t> added = s.importer->Add(parent, spec);
      if (!added.ok() && first.progress != nullptr) {
        std::fprintf(first.progress, "warning: --cache-from %s: %s\n", spec.text.c_str(),
                     added.error().ToString().c_str());
      }
    }
    // An imported cache only saves work: a step it cannot give (a blob gone or damaged, a layer
    // that is not what the cache says) is run instead, with a warning.
    s.cache->SetFallback(
        [importer = s.importer.get(), warn = first.progress](
            const Context& c, const std::string& key) -> Result<std::optional<cache::Record>> {
          Result<std::optional<cache::Record>> fetched = importer->Fetch(c, key);
          if (fetched.ok() || fetched.error().code() == ErrorCode::kCancelled) {
            return fetched;
          }
          if (warn != nullptr) {
            std::fprintf(warn, "warning: --cache-from: %s; the step runs instead\n",
                         fetched.error().ToString().c_str());
          }
          return std::optional<cache::Record>();
        });
  }
  s.solver = std::make_unique<solver::Solver>(*s.cache);
  s.renderer = first.renderer;
  if (s.renderer == nullptr && first.progress != nullptr) {
    s.own_renderer = NewRenderer(first.progress_mode, first.progress);
    s.renderer = s.own_renderer.get();
  }

  std::vector<Target> targets(builds.size());
  for (size_t i = 0; i < builds.size(); ++i) {
    targets[i].options = &builds[i];
    targets[i].attest = attests[i];
  }
  Context ctx = parent.WithCancel();
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Error> first_error;
  auto run = [&](size_t i) {
    Target& t = targets[i];
    Result<> r = [&]() -> Result<> {
      std::map<std::string, std::string> linked;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] {
          return first_error.has_value() || std::all_of(deps[i].begin(), deps[i].end(),
                                                        [&](size_t d) { return targets[d].done; });
        });
        if (first_error) {
          return Error::Cancelled("another target failed");
        }
        for (size_t d : deps[i]) {
          linked.emplace(builds[d].name, std::string(kImageContext) + "berth.invalid/bake/" +
                                             "target@" +
                                             targets[d].image->manifest.digest.ToString());
        }
      }
      BERTH_TRY(SolveTarget(ctx, s, t, linked));
      bool needed = false;
      for (const std::vector<size_t>& d : deps) {
        needed = needed || std::find(d.begin(), d.end(), i) != d.end();
      }
      if (needed) {
        BERTH_TRY(TargetImage(ctx, s, t, t.options->outputs));
      }
      return {};
    }();
    std::lock_guard lock(mu);
    if (r.ok()) {
      t.done = true;
    } else {
      t.failed = true;
      if (!first_error) {
        first_error = std::move(r).error();
        if (builds.size() > 1 && !t.options->name.empty()) {
          first_error->AddContext("target " + t.options->name);
        }
        ctx.Cancel("another target failed");
      }
    }
    cv.notify_all();
  };
  if (builds.size() == 1) {
    run(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(builds.size());
    for (size_t i = 0; i < builds.size(); ++i) {
      threads.emplace_back(run, i);
    }
    for (std::thread& th : threads) {
      th.join();
    }
  }
  if (s.renderer != nullptr) {
    s.renderer->Finish();
  }
  if (first_error) {
    return *std::move(first_error);
  }
  std::vector<BuildResult> results(builds.size());
  for (size_t i = 0; i < builds.size(); ++i) {
    if (!builds[i].cache_only) {
      Result<BuildResult> r = ExportTarget(ctx, s, targets[i]);
      if (!r.ok()) {
        return builds.size() > 1 && !builds[i].name.empty()
                   ? std::move(r).error().AddContext("target " + builds[i].name)
                   : std::move(r).error();
      }
      results[i] = std::move(r).value();
    }
    if (!exports[i].empty()) {
      Result<> exported = ExportCaches(ctx, s, targets[i], exports[i]);
      if (!exported.ok()) {
        return builds.size() > 1 && !builds[i].name.empty()
                   ? std::move(exported).error().AddContext("target " + builds[i].name)
                   : std::move(exported).error();
      }
    }
  }
  // The embedded default's [cache] cap, once this session's GC lock is released.
  s.solver.reset();
  s.cache.reset();
  EvictToConfiguredCap(ctx, s.root->path(), first.project);
  return results;
}

Result<BuildResult> Build(const Context& ctx, const BuildOptions& options) {
  std::vector<BuildResult> results = BERTH_TRY(BuildAll(ctx, {options}));
  return std::move(results.front());
}

}  // namespace berth::engine
