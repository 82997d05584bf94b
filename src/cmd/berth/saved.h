// Saved builds on berthd (`berth build --save`): bring one into the local image store, copy it
// to other registries from berthd, list and remove them.
//   berth pull BUILD|TAG [-t NAME]... [--platform P] [--project P]
//   berth push BUILD|TAG -t REGISTRY/REPO:TAG [-t ...] [--project P]
//   berth image ls --project P     berth image rm --project P TAG...   (hooks in image.cc)
// Each takes --host/--token (else BERTH_HOST/BERTH_TOKEN, else the login) and finds the project
// as `berth build` does (--project, BERTH_PROJECT, berth.json).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "cmd/berth/remote_common.h"

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds `pull` and `push` to `app`.
void RegisterSavedCommands(CLI::App& app, int& exit_code);

// `berth image ls --project P`: the project's saved images.
Result<> ListSavedImages(const RemoteFlags& flags, const std::string& project, bool quiet,
                         int& exit_code);
// `berth image rm --project P TAG...`: removes the saved images' tags.
Result<> RemoveSavedImages(const RemoteFlags& flags, const std::string& project,
                           const std::vector<std::string>& tags, int& exit_code);

}  // namespace berth::cmd
