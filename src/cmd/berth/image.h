// `berth image ...`: the local image store from the command line: import a root filesystem,
// list, remove and save images. (`image pull` and `image push` arrive with the registry client.)
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the `image` command and its subcommands to `app`. A failing subcommand prints one
// "error: ..." line and sets `exit_code` to 1 (2 for a usage error its flags' checks miss).
// `exit_code` must outlive app.parse().
void RegisterImageCommands(CLI::App& app, int& exit_code);

}  // namespace berth::cmd
