// berth: the command-line interface. This file is the composition root: it parses flags and
// wires components together; the work happens in the components.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "base/error.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0-dev"
#endif

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
  (void)Fail;
  return exit_code;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Run(argc, argv); }
