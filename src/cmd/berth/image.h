// `berth image ...`: the local image store from the command line: import a root filesystem,
// list, remove and save images. (`image pull` and `image push` arrive with the registry client.)
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace berth::reference {
struct Reference;
}  // namespace berth::reference

namespace berth::registry {
class Client;
}  // namespace berth::registry

namespace berth::cmd {

// Adds the `image` command and its subcommands to `app`. A failing subcommand prints one
// "error: ..." line and sets `exit_code` to 1 (2 for a usage error its flags' checks miss).
// `exit_code` must outlive app.parse().
void RegisterImageCommands(CLI::App& app, int& exit_code);

struct PullOptions {
  std::string platform;            // "" = the host's
  std::vector<std::string> names;  // stored under each of these names
  bool quiet = false;              // no transfer progress
  bool no_unpack = false;          // do not unpack it for builds
};

// Pulls `ref` through `client` into the image store at `root_path` (only the blobs the store
// lacks travel) and names it as `options` says, printing "name: digest" for each name.
Result<> PullImage(const std::string& root_path, registry::Client& client,
                   const reference::Reference& ref, const PullOptions& options);

}  // namespace berth::cmd
