// The berthd commands for usage and settings:
//   berth usage [--project P] [--org O] [--month YYYY-MM] [--output table|json|csv]
//   berth orgs list|get ORG                          berth orgs update ORG --build-minutes-cap N
//   berth projects update ID [--name N] [--region R] [--cache-cap SIZE] [--retention-days N]
// ORG is an organization's id or name. Each takes --host and --token as the other berthd
// commands do (remote_common.h).
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the commands above to `app`; `projects update` goes under the `projects` command, so
// call it after RegisterRemoteCommands. A failing command prints one "error: ..." line and sets
// `exit_code` to 1 (a request failed) or 2 (a usage error). `exit_code` must outlive
// app.parse().
void RegisterUsageCommands(CLI::App& app, int& exit_code);

}  // namespace berth::cmd
