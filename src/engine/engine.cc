#include "engine/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "archive/tar_writer.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "cache/sqlite_index.h"
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

Result<BuildResult> Build(const Context& ctx, const BuildOptions& options) {
  std::unique_ptr<images::Root> root = BERTH_TRY(images::Root::Open(options.root));
  StoreResolver resolver(ctx, root->content(), root->images(), root->path(), options.pull);

  std::vector<Output> outputs = options.outputs;
  if (outputs.empty()) {
    outputs.push_back(Output{.type = OutputType::kImage});
  }
  for (Output& out : outputs) {
    if (IsImageOutput(out) && out.names.empty()) {
      out.names = options.tags;
    }
    if (out.type == OutputType::kImage && out.push && out.names.empty()) {
      return Error::InvalidArgument("--push / type=registry: no image name to push (use -t NAME)");
    }
  }

  RunnerEnv env;
  env.contexts["context"] =
      LocalContext{.dir = options.context, .excludes = options.context_excludes};
  for (const auto& [name, value] : options.build_contexts) {
    if (name.empty() || name == "context") {
      return Error::InvalidArgument("--build-context " + name + "=" + value +
                                    ": the name must not be empty or \"context\"");
    }
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
  convert_options.build_contexts = options.build_contexts;
  convert_options.resolver = &resolver;
  convert_options.extra_hosts = options.extra_hosts;
  if (options.network == "none") {
    convert_options.network = graph::NetworkMode::kNone;
  } else if (options.network == "host") {
    convert_options.network = graph::NetworkMode::kHost;
  } else if (options.network != "default" && !options.network.empty()) {
    return Error::InvalidArgument("--network " + options.network + ": want default, host or none");
  }
  convert::ConvertResult converted =
      BERTH_TRY(convert::Convert(options.dockerfile_text, convert_options));
  for (const convert::Warning& w : converted.warnings) {
    if (options.progress != nullptr) {
      if (w.line > 0) {
        std::fprintf(options.progress, "warning: %s:%d: %s\n", options.dockerfile_name.c_str(),
                     w.line, w.message.c_str());
      } else {
        std::fprintf(options.progress, "warning: %s\n", w.message.c_str());
      }
    }
  }

  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter =
      BERTH_TRY(snapshot::OverlaySnapshotter::Open(root->path() + "/snapshots"));
  std::unique_ptr<cache::SqliteIndex> index =
      BERTH_TRY(cache::SqliteIndex::Open({.path = root->path() + "/cache.db"}));
  std::unique_ptr<executor::RuncExecutor> executor = BERTH_TRY(executor::RuncExecutor::Create(
      {.state_dir = root->path() + "/runc", .bundle_dir = root->path() + "/bundles"}));

  std::unique_ptr<Renderer> own_renderer;
  Renderer* renderer = options.renderer;
  if (renderer == nullptr && options.progress != nullptr) {
    own_renderer = NewRenderer(options.progress_mode, options.progress);
    renderer = own_renderer.get();
  }
  Progress progress(converted.graph, renderer);
  env.snapshotter = snapshotter.get();
  env.executor = executor.get();
  env.index = index.get();
  env.content = &root->content();
  env.resolver = &resolver;
  env.graph = &converted.graph;
  env.progress = &progress;
  env.root = root->path();
  env.source_date_epoch = options.source_date_epoch;
  env.secrets = options.secrets;
  env.ssh = options.ssh;
  env.shm_size = options.shm_size;
  env.project = options.project;
  for (const Ulimit& u : options.ulimits) {
    std::string type = BERTH_TRY_CONTEXT(executor::RlimitType(u.name), "--ulimit");
    env.rlimits.push_back({.type = type,
                           .soft = static_cast<uint64_t>(u.soft),
                           .hard = static_cast<uint64_t>(u.hard)});
  }
  Runner runner(std::move(env));
  IndexCache cache(*index, *snapshotter, root->path() + "/locks", options.project);
  solver::Solver solver(runner, cache);
  Result<solver::VertexResult> solved = solver.Solve(
      ctx, converted.graph, converted.target,
      {.parallelism = options.parallelism, .progress = [&](const solver::VertexEvent& e) {
         progress.Event(e);
       }});
  if (renderer != nullptr) {
    renderer->Finish();
  }
  solver::VertexResult result = BERTH_TRY(std::move(solved));
  std::string top = result.outputs.empty() ? "" : result.outputs[0];
  if (IsContextRef(top)) {
    return Error::Unimplemented("exporting a build context itself as the result");
  }

  BuildResult out;
  std::optional<ExportedImage> image;
  for (const Output& output : outputs) {
    if (IsImageOutput(output) && !image) {
      std::map<std::string, std::string> annotations = options.annotations;
      for (const Output& o : outputs) {
        annotations.insert(o.annotations.begin(), o.annotations.end());
      }
      image = BERTH_TRY_CONTEXT(
          ExportImage(
              ctx,
              {.snapshotter = snapshotter.get(), .index = index.get(), .content = &root->content()},
              top, converted.config, annotations, options.source_date_epoch),
          "exporting the image");
      out.manifest_digest = image->manifest.digest.ToString();
      out.config_digest = image->config.digest.ToString();
      out.manifest_size = image->manifest.size;
      out.manifest_media_type = image->manifest.media_type;
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
          BERTH_TRY(root->images().Put(ctx, normalized, image->manifest));
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
          BERTH_TRY_CONTEXT(registry::Push(ctx, *client, source, image->manifest, refs),
                            "pushing the image");
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
                          .target = image->manifest});
        }
        if (list.empty()) {
          list.push_back({.name = "", .target = image->manifest});
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

}  // namespace berth::engine
