// `berth build`: builds a Dockerfile with the embedded engine (engine/engine.h) and stores the
// image in the local image store under each -t name.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the `build` command to `app`. A failing build prints one "error: ..." line and sets
// `exit_code` to 1 (2 for a usage error). `exit_code` must outlive app.parse().
void RegisterBuildCommand(CLI::App& app, int& exit_code);

}  // namespace berth::cmd
