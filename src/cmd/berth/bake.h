// `berth bake`: reads bake files (docker-bake.hcl, docker-bake.json, compose files) with
// frontend/bake. For now it prints the resolved definition (--print) or lists targets and
// variables (--list); building comes with the engine wiring (issue 7).
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the `bake` command to `app`. A failure prints one "error: ..." line and sets `exit_code`
// to 1 (2 for a usage error). `exit_code` must outlive app.parse().
void RegisterBakeCommand(CLI::App& app, int& exit_code);

}  // namespace berth::cmd
