// berth: the command-line interface. This file is the composition root: it parses flags and
// wires components together; the work happens in the components.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "base/version.h"
#include "cmd/berth/bake.h"
#include "cmd/berth/build.h"
#include "cmd/berth/debug.h"
#include "cmd/berth/image.h"
#include "cmd/berth/remote.h"
#include "cmd/berth/saved.h"
#include "cmd/berth/trust_policy.h"
#include "cmd/berth/usage.h"

namespace berth {
namespace {

// Exit codes every berth command uses.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Fail(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.ToString().c_str());
  return kExitFailed;
}

int Run(int argc, char** argv) {
  CLI::App app{"berth: build container images fast, locally or on a shared builder", "berth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", BERTH_VERSION);

  int exit_code = kExitOk;

  auto* version = app.add_subcommand("version", "Print the berth version");
  version->callback([] { std::printf("berth %s\n", BERTH_VERSION); });

  auto* debug = app.add_subcommand("debug", "Show what berth makes of a Dockerfile");
  debug->require_subcommand(1);

  std::string parse_file;
  auto* parse = debug->add_subcommand("parse", "Print a Dockerfile's syntax tree");
  parse->add_option("FILE", parse_file, "Dockerfile to parse (- for stdin)")->required();
  parse->callback([&] {
    if (Result<> r = cmd::DebugParse(parse_file); !r.ok()) {
      exit_code = Fail(r.error());
    }
  });

  cmd::GraphFlags graph_flags;
  auto* graph = debug->add_subcommand("graph", "Print the build graph of a Dockerfile as JSON");
  graph->add_option("CONTEXT", graph_flags.context, "Build context directory")->default_str(".");
  graph->add_option("-f,--file", graph_flags.file,
                    "Name of the Dockerfile (default: CONTEXT/Dockerfile)");
  graph->add_option("--target", graph_flags.target, "Set the target build stage");
  graph->add_option("--build-arg", graph_flags.build_args, "Set build-time variables (KEY=VALUE)")
      ->allow_extra_args(false);
  graph->add_option("--platform", graph_flags.platform, "Set the target platform");
  graph
      ->add_option("--build-context", graph_flags.build_contexts,
                   "Additional build contexts (NAME=VALUE)")
      ->allow_extra_args(false);
  graph->add_option("--label", graph_flags.labels, "Set metadata for an image (KEY=VALUE)")
      ->allow_extra_args(false);
  graph->add_flag("--no-cache", graph_flags.no_cache, "Do not use cache when building the image");
  graph
      ->add_option("--no-cache-filter", graph_flags.no_cache_filter,
                   "Do not cache specified stages")
      ->allow_extra_args(false);
  graph->callback([&] {
    if (Result<> r = cmd::DebugGraph(graph_flags); !r.ok()) {
      exit_code = Fail(r.error());
    }
  });

  cmd::RegisterBakeCommand(app, exit_code);
  cmd::RegisterBuildCommand(app, exit_code);
  cmd::RegisterImageCommands(app, exit_code);
  cmd::RegisterRemoteCommands(app, exit_code);
  cmd::RegisterTrustPolicyCommands(app, exit_code);
  cmd::RegisterUsageCommands(app, exit_code);
  cmd::RegisterSavedCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::fprintf(stderr, "Run 'berth --help' for usage.\n");
    return kExitUsage;
  }
  return exit_code;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) {
  return berth::Run(argc, argv);
}
