#include "cmd/berth/build.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "archive/tar_writer.h"
#include "base/error.h"
#include "base/strings.h"
#include "cmd/berth/flags.h"
#include "engine/engine.h"
#include "images/root.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"
#include "platform/platform.h"

namespace berth::cmd {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct BuildFlags {
  std::string context = ".";
  std::string file;  // "" = CONTEXT/Dockerfile
  std::vector<std::string> tags;
  std::vector<std::string> build_args;
  std::string target;
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;
  std::vector<std::string> labels;
  std::string platform;
  std::string iidfile;
  bool quiet = false;
  std::string progress = "plain";
  std::string root;
};

Result<> RunBuild(const BuildFlags& flags, int& exit_code) {
  if (flags.progress != "plain" && flags.progress != "auto" && flags.progress != "tty") {
    exit_code = kExitUsage;
    return Error::InvalidArgument("--progress: want plain (the only renderer so far)");
  }
  engine::BuildOptions options;
  Result<std::map<std::string, std::string>> args =
      KeyValues(flags.build_args, "--build-arg", /*from_env=*/true);
  Result<std::map<std::string, std::string>> labels =
      KeyValues(flags.labels, "--label", /*from_env=*/false);
  for (Result<std::map<std::string, std::string>>* r : {&args, &labels}) {
    if (!r->ok()) {
      exit_code = kExitUsage;
      return std::move(*r).error();
    }
  }
  options.build_args = *args;
  options.labels = *labels;
  if (!flags.platform.empty()) {
    platform::Platform want =
        BERTH_TRY_CONTEXT(platform::ParsePlatform(flags.platform), "--platform");
    if (!(want == platform::HostPlatform())) {
      return Error::Unimplemented("--platform " + want.ToString() + ": only the host platform (" +
                                  platform::HostPlatform().ToString() + ") can be built so far");
    }
  }
  std::string file = flags.file.empty() ? flags.context + "/Dockerfile" : flags.file;
  options.dockerfile_text = BERTH_TRY_CONTEXT(os::ReadFile(file), "reading the Dockerfile");
  options.dockerfile_name = file.substr(file.rfind('/') + 1);
  // <Dockerfile>.dockerignore beside the Dockerfile replaces the context's .dockerignore.
  std::string ignore_path = os::Exists(file + ".dockerignore") ? file + ".dockerignore"
                                                               : flags.context + "/.dockerignore";
  if (os::Exists(ignore_path)) {
    std::string ignore = BERTH_TRY(os::ReadFile(ignore_path));
    options.context_excludes =
        BERTH_TRY_CONTEXT(patternmatcher::ReadIgnoreFile(ignore), "reading " + ignore_path);
  }
  options.root = BERTH_TRY(images::ResolveRootPath(flags.root));
  options.context = flags.context;
  options.target = flags.target;
  options.tags = flags.tags;
  options.no_cache = flags.no_cache;
  options.no_cache_filter = flags.no_cache_filter;
  if (flags.quiet) {
    options.progress = nullptr;
  }
  options.source_date_epoch = BERTH_TRY(archive::SourceDateEpochFromEnv());
  Context ctx = Context::Background();
  engine::BuildResult result = BERTH_TRY(engine::Build(ctx, options));
  for (const std::string& tag : result.tags) {
    if (!flags.quiet) {
      std::fprintf(stderr, "naming to %s\n", tag.c_str());
    }
  }
  if (!flags.iidfile.empty()) {
    BERTH_TRY_CONTEXT(os::WriteFileAtomic(flags.iidfile, result.config_digest), "--iidfile");
  }
  // -q prints the image ID (the config digest), as `docker build -q` does.
  std::printf("%s\n", flags.quiet ? result.config_digest.c_str() : result.manifest_digest.c_str());
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
  build->add_option("--progress", flags->progress, "Progress output: plain")->default_str("plain");
  build->add_option("--root", flags->root, "berth state directory (default: $BERTH_ROOT)");
  build->add_option("--label", flags->labels, "Set metadata for an image (KEY=VALUE)")
      ->allow_extra_args(false);
  build->add_option("--no-cache-filter", flags->no_cache_filter, "Do not cache specified stages")
      ->allow_extra_args(false);
  build->add_option("--platform", flags->platform, "Target platform (the host's only, so far)");
  build->add_option("--iidfile", flags->iidfile, "Write the image ID (config digest) to the file");
  build->add_flag("-q,--quiet", flags->quiet, "Suppress the build output and print the image ID");
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
