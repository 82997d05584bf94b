#include "engine/engine.h"

#include "cache/sqlite_index.h"
#include "engine/exporter.h"
#include "engine/progress.h"
#include "engine/resolver.h"
#include "engine/runner.h"
#include "executor/runc_executor.h"
#include "frontend/dockerfile/convert/convert.h"
#include "images/root.h"
#include "snapshot/overlay_snapshotter.h"
#include "solver/solver.h"

namespace berth::engine {

namespace convert = frontend::dockerfile::convert;

Result<BuildResult> Build(const Context& ctx, const BuildOptions& options) {
  std::unique_ptr<images::Root> root = BERTH_TRY(images::Root::Open(options.root));
  StoreResolver resolver(ctx, root->content(), root->images(), root->path());

  convert::Options convert_options;
  convert_options.file_name = options.dockerfile_name;
  convert_options.build_args = options.build_args;
  convert_options.target = options.target;
  convert_options.no_cache = options.no_cache;
  convert_options.no_cache_filter = options.no_cache_filter;
  convert_options.labels = options.labels;
  convert_options.context_excludes = options.context_excludes;
  convert_options.resolver = &resolver;
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

  Progress progress(converted.graph, options.progress);
  RunnerEnv env;
  env.snapshotter = snapshotter.get();
  env.executor = executor.get();
  env.index = index.get();
  env.content = &root->content();
  env.resolver = &resolver;
  env.graph = &converted.graph;
  env.progress = &progress;
  env.context_dir = options.context;
  env.context_excludes = options.context_excludes;
  env.root = root->path();
  env.source_date_epoch = options.source_date_epoch;
  Runner runner(std::move(env));
  IndexCache cache(*index, *snapshotter);
  solver::Solver solver(runner, cache);
  solver::VertexResult result = BERTH_TRY(solver.Solve(
      ctx, converted.graph, converted.target,
      {.parallelism = options.parallelism, .progress = [&](const solver::VertexEvent& e) {
         progress.Event(e);
       }}));
  std::string top = result.outputs.empty() ? "" : result.outputs[0];
  if (top == kContextRef) {
    return Error::Unimplemented("exporting the build context itself as an image");
  }

  ExportedImage image =
      BERTH_TRY_CONTEXT(ExportImage(ctx,
                                    {.snapshotter = snapshotter.get(),
                                     .index = index.get(),
                                     .content = &root->content(),
                                     .images = &root->images()},
                                    top, converted.config, options.tags, options.source_date_epoch),
                        "exporting the image");
  return BuildResult{.manifest_digest = image.manifest.digest.ToString(),
                     .config_digest = image.config.digest.ToString(),
                     .tags = image.tags};
}

}  // namespace berth::engine
