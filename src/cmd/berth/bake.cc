#include "cmd/berth/bake.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "base/strings.h"
#include "frontend/bake/model.h"
#include "platform/platform.h"

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
};

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    auto [k, v] = SplitOnce(*e, '=');
    env.emplace(std::move(k), std::move(v));
  }
  return env;
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
  if (!flags.print && list.empty()) {
    exit_code = kExitUsage;
    return Error::Unimplemented(
        "berth bake only prints (--print) and lists (--list) so far; building bake targets is "
        "not wired to the engine yet");
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
  std::fputs(frontend::bake::PrintJson(selection).c_str(), stdout);
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
