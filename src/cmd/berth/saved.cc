#include "cmd/berth/saved.h"

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/oidc_login.h"
#include "client/settings.h"
#include "cmd/berth/image.h"
#include "images/root.h"
#include "reference/reference.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/config.h"

namespace berth::cmd {
namespace {

using json = nlohmann::json;

struct SavedArgs {
  std::string ref;  // build id, tag or digest
  std::vector<std::string> names;
  std::string project;
  std::string platform;
  bool quiet = false;
  std::string root;
};

// The server, the token and the project of a saved-build command.
struct Target {
  client::Server server;
  std::string project;
  std::unique_ptr<client::Client> api;
};

Result<Target> Resolve(const RemoteFlags& flags, const std::string& project_flag, int& exit_code) {
  client::Getenv env = client::ProcessEnv();
  Result<client::ProjectChoice> project = client::ResolveProject(project_flag, env, {"."});
  if (!project.ok()) {
    return Usage(exit_code, std::move(project).error());
  }
  // Without a berthd token, a CI job's OIDC ID token is exchanged for one of the project.
  Result<client::Server> server =
      client::ResolveServerForProject(Context::Background(), flags.server, env, project->id);
  if (!server.ok()) {
    ErrorCode code = server.error().code();
    if (code == ErrorCode::kInvalidArgument || code == ErrorCode::kFailedPrecondition) {
      return Usage(exit_code, std::move(server).error());
    }
    return std::move(server).error();
  }
  if (project->id.empty()) {
    return Usage(exit_code,
                 Error::InvalidArgument("which project? --project, BERTH_PROJECT or a berth.json"));
  }
  Target t{.server = *server, .project = project->id};
  t.api = BERTH_TRY(client::Client::Create(server->url, server->token));
  return t;
}

Result<> Pull(const RemoteFlags& flags, const SavedArgs& args, int& exit_code) {
  Target t = BERTH_TRY(Resolve(flags, args.project, exit_code));
  std::string host = client::RegistryHost(t.server.url);
  std::string source =
      host + "/" + t.project + (args.ref.starts_with("sha256:") ? "@" : ":") + args.ref;
  Result<reference::Reference> ref = reference::ParseNormalized(source);
  if (!ref.ok()) {
    return Usage(exit_code, Error::InvalidArgument("BUILD " + args.ref +
                                                   ": not a build id, tag "
                                                   "or digest (" +
                                                   ref.error().message() + ")"));
  }
  std::string root = BERTH_TRY(images::ResolveRootPath(args.root));
  registry::ClientOptions options;
  options.config = BERTH_TRY(registry::RegistryConfig::Load(root));
  if (t.server.url.starts_with("http://")) {
    options.config.SetInsecure(host, true);
  }
  // berthd's registry takes the berthd token as the password of user x-token.
  options.credentials.Set(host, {.username = "x-token", .password = t.server.token});
  registry::Client client(std::move(options));
  std::vector<std::string> names = args.names;
  if (names.empty()) {
    names.push_back(ref->String());
  }
  return PullImage(root, client, *ref,
                   {.platform = args.platform, .names = names, .quiet = args.quiet});
}

Result<> Push(const RemoteFlags& flags, const SavedArgs& args, int& exit_code) {
  if (args.names.empty()) {
    return Usage(exit_code, Error::InvalidArgument("push: name at least one target with -t"));
  }
  Target t = BERTH_TRY(Resolve(flags, args.project, exit_code));
  // The targets' credentials from docker's config.json travel with the request: berthd pushes.
  registry::DockerConfig docker = BERTH_TRY(registry::DockerConfig::Load());
  json credentials = json::object();
  json targets = json::array();
  for (const std::string& name : args.names) {
    Result<reference::Reference> ref = reference::ParseNormalized(name);
    if (!ref.ok()) {
      return Usage(exit_code, Error::InvalidArgument("-t " + name + ": " + ref.error().message()));
    }
    targets.push_back(ref->String());
    std::optional<registry::Credentials> creds = BERTH_TRY(docker.Lookup(ref->domain));
    if (creds && !creds->username.empty()) {
      credentials[registry::CredentialHost(ref->domain)] = {{"username", creds->username},
                                                            {"password", creds->password}};
    }
  }
  json body = {{"targets", targets}, {"credentials", credentials}};
  std::string answer = BERTH_TRY(
      t.api->Call(Context::Background(), "POST",
                  "/api/v1/projects/" + t.project + "/images/" + args.ref + "/push", body.dump()));
  json result = json::parse(answer, nullptr, false);
  if (result.is_discarded()) {
    return Error::DataLoss("berthd's push answer is not JSON");
  }
  for (const json& pushed : result.value("pushed", json::array())) {
    std::printf("%s: %s\n", pushed.get<std::string>().c_str(), result.value("digest", "").c_str());
  }
  if (!args.quiet) {
    std::fprintf(stderr, "pushed from berthd: %lld blob(s) uploaded (%lld bytes), %lld present\n",
                 static_cast<long long>(result.value("blobs_uploaded", int64_t{0})),
                 static_cast<long long>(result.value("bytes_uploaded", int64_t{0})),
                 static_cast<long long>(result.value("blobs_skipped", int64_t{0})));
  }
  return {};
}

}  // namespace

Result<> ListSavedImages(const RemoteFlags& flags, const std::string& project, bool quiet,
                         int& exit_code) {
  Target t = BERTH_TRY(Resolve(flags, project, exit_code));
  std::string answer = BERTH_TRY(
      t.api->Call(Context::Background(), "GET", "/api/v1/projects/" + t.project + "/images"));
  json list = json::parse(answer, nullptr, false);
  if (list.is_discarded() || !list.contains("items")) {
    return Error::DataLoss("berthd's image list is not JSON");
  }
  std::string host = client::RegistryHost(t.server.url);
  Rows rows;
  rows.csv_header = {"reference", "tag", "build_id", "digest", "size", "saved", "expires"};
  rows.table_header = {"REFERENCE", "BUILD", "DIGEST", "SIZE", "SAVED", "EXPIRES"};
  for (const json& item : list["items"]) {
    std::string reference = host + "/" + item.value("repository", "") + ":" + item.value("tag", "");
    if (quiet) {
      std::printf("%s\n", reference.c_str());
      continue;
    }
    std::string digest = item.value("digest", "");
    rows.csv.push_back({reference, item.value("tag", ""), item.value("build_id", ""), digest,
                        std::to_string(item.value("size", int64_t{0})), item.value("saved_at", ""),
                        item.value("expires_at", "")});
    rows.table.push_back({reference, Or(item.value("build_id", ""), "-"),
                          digest.substr(0, std::min<size_t>(digest.size(), 19)),
                          HumanSize(item.value("size", int64_t{0})),
                          HumanTime(item.value("saved_at", "")),
                          HumanTime(item.value("expires_at", ""))});
    rows.objects.push_back(item.dump());
  }
  if (!quiet) {
    Print(ChooseFormat(flags.output), rows, false);
  }
  return {};
}

Result<> RemoveSavedImages(const RemoteFlags& flags, const std::string& project,
                           const std::vector<std::string>& tags, int& exit_code) {
  Target t = BERTH_TRY(Resolve(flags, project, exit_code));
  for (const std::string& tag : tags) {
    BERTH_TRY(t.api->Call(Context::Background(), "DELETE",
                          "/api/v1/projects/" + t.project + "/images/" + tag));
    std::printf("removed %s/%s:%s\n", client::RegistryHost(t.server.url).c_str(), t.project.c_str(),
                tag.c_str());
  }
  return {};
}

// clang-format off
void RegisterSavedCommands(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<RemoteFlags>();
  auto args = std::make_shared<SavedArgs>();

  auto* pull = app.add_subcommand(
      "pull", "Pull a saved build (berth build --save) from berthd into the local image store");
  pull->add_option("BUILD", args->ref, "Build id, tag or digest of the saved image")->required();
  pull->add_option("-t,--tag", args->names,
                   "Name it this way in the local store (default: HOST/PROJECT:BUILD)")
      ->allow_extra_args(false);
  pull->add_option("--project", args->project,
                   "berthd project (default: $BERTH_PROJECT, then berth.json)");
  pull->add_option("--platform", args->platform, "Platform to pull (default: the host's)");
  pull->add_flag("-q,--quiet", args->quiet, "Print no transfer progress");
  pull->add_option("--root", args->root, "berth state directory (default: $BERTH_ROOT)");
  AddServerFlags(pull, *flags);
  pull->callback([flags, args, &exit_code] {
    Report(exit_code, [&] { return Pull(*flags, *args, exit_code); });
  });

  auto* push = app.add_subcommand(
      "push", "Push a saved build from berthd to registries (berthd copies it; blobs they have are skipped)");
  push->add_option("BUILD", args->ref, "Build id, tag or digest of the saved image")->required();
  push->add_option("-t,--tag", args->names, "Target REGISTRY/REPOSITORY:TAG (repeatable)")
      ->allow_extra_args(false)
      ->required();
  push->add_option("--project", args->project,
                   "berthd project (default: $BERTH_PROJECT, then berth.json)");
  push->add_flag("-q,--quiet", args->quiet, "Print only the pushed names");
  AddServerFlags(push, *flags);
  push->callback([flags, args, &exit_code] {
    Report(exit_code, [&] { return Push(*flags, *args, exit_code); });
  });
}
// clang-format on

}  // namespace berth::cmd
