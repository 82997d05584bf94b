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
#include "engine/engine.h"
#include "images/root.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"

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
  std::string progress = "plain";
  std::string root;
};

Result<std::map<std::string, std::string>> BuildArgs(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    bool found = false;
    auto [key, value] = SplitOnce(item, '=', &found);
    if (key.empty()) {
      return Error::InvalidArgument("--build-arg: invalid value \"" + item + "\": want KEY=VALUE");
    }
    if (!found) {
      const char* env = std::getenv(key.c_str());  // NOLINT(concurrency-mt-unsafe)
      if (env == nullptr) {
        continue;
      }
      value = env;
    }
    out[key] = value;
  }
  return out;
}

Result<> RunBuild(const BuildFlags& flags, int& exit_code) {
  if (flags.progress != "plain" && flags.progress != "auto" && flags.progress != "tty") {
    exit_code = kExitUsage;
    return Error::InvalidArgument("--progress: want plain (the only renderer so far)");
  }
  engine::BuildOptions options;
  Result<std::map<std::string, std::string>> args = BuildArgs(flags.build_args);
  if (!args.ok()) {
    exit_code = kExitUsage;
    return std::move(args).error();
  }
  options.build_args = *args;
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
  options.source_date_epoch = BERTH_TRY(archive::SourceDateEpochFromEnv());
  Context ctx = Context::Background();
  engine::BuildResult result = BERTH_TRY(engine::Build(ctx, options));
  for (const std::string& tag : result.tags) {
    std::fprintf(stderr, "naming to %s\n", tag.c_str());
  }
  std::printf("%s\n", result.manifest_digest.c_str());
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
