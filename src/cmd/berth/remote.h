// The commands that talk to berthd (DESIGN.md, "Operating berthd"):
//   berth login [HOST] --token T           berth logout [HOST]
//   berth init [--project ID | --name NAME]
//   berth projects create NAME | list | get ID | delete ID
//   berth projects tokens create PROJECT | list PROJECT | revoke TOKEN_ID
//   berth list projects                    berth list builds [--project P]
//   berth cache ls|reset [--project P | --root DIR]   (a project's on berthd, else the local one)
// Each takes --host and --token (else BERTH_HOST / BERTH_TOKEN, else the login) and the list and
// get commands --output table|json|csv (table on a terminal, csv otherwise). Where the server,
// the token and the project come from is client/settings.h.
#pragma once

#include <vector>

#include "client/client.h"
#include "cmd/berth/remote_common.h"

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the commands above to `app`. A failing command prints one "error: ..." line and sets
// `exit_code` to 1 (a request failed) or 2 (a usage error). `exit_code` must outlive
// app.parse().
void RegisterRemoteCommands(CLI::App& app, int& exit_code);

// Projects as `berth projects list|get|create` print them.
Rows ProjectRows(const std::vector<client::Project>& projects);

}  // namespace berth::cmd
