#include "cmd/berth/remote.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/strings.h"
#include "cache/index.h"
#include "client/client.h"
#include "client/settings.h"
#include "cmd/berth/flags.h"
#include "cmd/berth/remote_common.h"
#include "engine/cache_admin.h"
#include "images/root.h"
#include "os/file.h"
#include "registry/http.h"

namespace berth::cmd {

Rows ProjectRows(const std::vector<client::Project>& projects) {
  Rows rows;
  rows.csv_header = {"id", "name", "org_id", "region", "cache_cap_bytes", "created"};
  rows.table_header = {"ID", "NAME", "REGION", "CACHE CAP", "CREATED"};
  for (const client::Project& p : projects) {
    rows.csv.push_back(
        {p.id, p.name, p.org_id, p.region, std::to_string(p.cache_cap_bytes), p.created_at});
    rows.table.push_back(
        {p.id, p.name, Or(p.region, "-"), HumanBytes(p.cache_cap_bytes), HumanTime(p.created_at)});
    rows.objects.push_back(p.json);
  }
  return rows;
}

namespace {

using json = nlohmann::json;

Rows BuildRows(const std::vector<client::Build>& builds) {
  Rows rows;
  rows.csv_header = {"id", "status", "created", "duration", "first_miss"};
  rows.table_header = {"ID", "STATUS", "CREATED", "DURATION", "FIRST MISS"};
  for (const client::Build& b : builds) {
    std::string seconds;
    if (b.duration_seconds) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.3f", *b.duration_seconds);
      seconds = buf;
    }
    rows.csv.push_back({b.id, b.status, b.queued_at, seconds, b.first_miss_step});
    // "sha256:" and 12 hex digits, as docker shortens ids.
    std::string miss = b.first_miss_step.substr(0, std::min<size_t>(b.first_miss_step.size(), 19));
    rows.table.push_back(
        {b.id, b.status, HumanTime(b.queued_at), HumanDuration(b.duration_seconds), Or(miss, "-")});
    rows.objects.push_back(b.json);
  }
  return rows;
}

Rows TokenRows(const std::vector<client::Token>& tokens) {
  Rows rows;
  rows.csv_header = {"id",      "name",    "kind",    "project_id",
                     "created", "expires", "revoked", "last_used"};
  rows.table_header = {"ID",      "NAME",    "KIND",    "PROJECT",
                       "CREATED", "EXPIRES", "REVOKED", "LAST USED"};
  for (const client::Token& t : tokens) {
    rows.csv.push_back({t.id, t.name, t.kind, t.project_id, t.created_at, t.expires_at,
                        t.revoked ? "true" : "false", t.last_used_at});
    rows.table.push_back({t.id, Or(t.name, "-"), t.kind, Or(t.project_id, "-"),
                          HumanTime(t.created_at),
                          t.expires_at.empty() ? "never" : HumanTime(t.expires_at),
                          t.revoked ? "yes" : "no", HumanTime(t.last_used_at)});
    rows.objects.push_back(t.json);
  }
  return rows;
}

// ---- flag values

// "24h", "30m", "7d", "1h30m", "90s", "2w" or plain seconds; "0" never expires.
Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  auto bad = [&] {
    return Error::InvalidArgument("--expires " + text +
                                  ": want a duration such as 90s, 30m, 24h, 7d or 1h30m");
  };
  if (text.empty()) {
    return bad();
  }
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return bad();
    }
    char* end = nullptr;
    std::string number = text.substr(start, i - start);
    double value = std::strtod(number.c_str(), &end);
    if (*end != '\0') {
      return bad();
    }
    double unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        default:
          return bad();
      }
      ++i;
    } else if (start != 0) {
      return bad();  // "1h30": the last number needs its unit
    }
    total += value * unit;
  }
  if (total > 100.0 * 365 * 86400) {
    return bad();
  }
  return std::chrono::seconds(static_cast<int64_t>(std::llround(total)));
}

// ---- login / logout

struct LoginArgs {
  std::string host;  // the HOST argument
};

Result<std::string> ReadTokenFromStdin(int& exit_code) {
  if (isatty(STDIN_FILENO) != 0) {
    return Usage(exit_code,
                 Error::InvalidArgument(
                     "no token: pass --token TOKEN, set BERTH_TOKEN or pipe it on stdin"));
  }
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  std::string token =
      n > 0 ? std::string(Trim(std::string_view(line, static_cast<size_t>(n)))) : "";
  std::free(
      line);  // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): getline's
  if (token.empty()) {
    return Usage(exit_code,
                 Error::InvalidArgument(
                     "no token: pass --token TOKEN, set BERTH_TOKEN or pipe it on stdin"));
  }
  return token;
}

Result<> Login(const RemoteFlags& flags, const LoginArgs& args, int& exit_code) {
  client::Getenv env = client::ProcessEnv();
  client::ServerFlags server_flags = flags.server;
  if (!args.host.empty()) {
    server_flags.host = args.host;
  }
  Result<client::Server> host = client::ResolveHost(server_flags, env);
  if (!host.ok()) {
    return Usage(exit_code, std::move(host).error());
  }
  std::string token = flags.server.token;
  if (token.empty()) {
    token = env("BERTH_TOKEN");
  }
  if (token.empty()) {
    token = BERTH_TRY(ReadTokenFromStdin(exit_code));
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(client::Client::Create(host->url, token));
  Context ctx = Context::Background();
  Result<client::Whoami> verified = c->GetWhoami(ctx);
  if (!verified.ok()) {
    if (verified.error().code() == ErrorCode::kUnauthenticated) {
      return Error::Unauthenticated("logging in to " + host->url +
                                    ": the token is not valid (unknown, revoked or expired)");
    }
    return std::move(verified).error().AddContext("logging in to " + host->url);
  }
  const client::Whoami& me = *verified;
  std::string path = BERTH_TRY(client::LoginFile::DefaultPath(env));
  client::LoginFile file = BERTH_TRY(client::LoginFile::Load(path));
  file.Set(host->url, token);
  BERTH_TRY(file.Save());
  std::string who = me.token.kind + " token " + me.token.id;
  if (me.admin) {
    who += " (admin)";
  } else if (!me.token.project_id.empty()) {
    who += " for project " + me.token.project_id;
  }
  std::printf("Logged in to %s with %s\n", host->url.c_str(), who.c_str());
  return {};
}

Result<> Logout(const RemoteFlags& flags, const LoginArgs& args, int& exit_code) {
  client::Getenv env = client::ProcessEnv();
  client::ServerFlags server_flags = flags.server;
  if (!args.host.empty()) {
    server_flags.host = args.host;
  }
  Result<client::Server> host = client::ResolveHost(server_flags, env);
  if (!host.ok()) {
    return Usage(exit_code, std::move(host).error());
  }
  std::string path = BERTH_TRY(client::LoginFile::DefaultPath(env));
  client::LoginFile file = BERTH_TRY(client::LoginFile::Load(path));
  if (!file.Remove(host->url)) {
    std::printf("Not logged in to %s\n", host->url.c_str());
    return {};
  }
  BERTH_TRY(file.Save());
  std::printf("Logged out of %s\n", host->url.c_str());
  return {};
}

// ---- init

struct InitArgs {
  std::string project;
  std::string name;
  bool force = false;
};

Result<> Init(const RemoteFlags& flags, const InitArgs& args, int& exit_code) {
  if (args.project.empty() == args.name.empty()) {
    return Usage(exit_code, Error::InvalidArgument(
                                "berth init: give --project ID (an existing project) or --name "
                                "NAME (a new one)"));
  }
  const std::string path = "berth.json";
  if (!args.force) {
    if (Result<std::string> existing = client::ReadProjectFile(path); existing.ok()) {
      return Error::AlreadyExists("berth.json exists (project " + *existing +
                                  "); pass --force to replace it");
    }
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  client::Project project;
  if (!args.project.empty()) {
    project = BERTH_TRY(c->GetProject(ctx, args.project));
  } else {
    project = BERTH_TRY(c->CreateProject(ctx, {.name = args.name}));
  }
  BERTH_TRY_CONTEXT(client::WriteProjectFile(path, project.id), "writing berth.json");
  std::printf("berth.json: project %s (%s)\n", project.id.c_str(), project.name.c_str());
  return {};
}

// ---- projects

struct ProjectArgs {
  std::string name;  // create
  std::string id;    // get, delete, tokens
  std::string region;
  std::string cache_cap;
  int64_t retention_days = 0;  // create: 0 = the server's default
  std::string token_name;
  std::string expires;
  std::string token_id;
};

Result<> ProjectsCreate(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  client::ProjectSpec spec;
  spec.name = args.name;
  spec.region = args.region;
  if (!args.cache_cap.empty()) {
    Result<int64_t> cap = ParseByteSize("--cache-cap", args.cache_cap);
    if (!cap.ok()) {
      return Usage(exit_code, std::move(cap).error());
    }
    spec.cache_cap_bytes = *cap;
  }
  spec.build_retention_days = args.retention_days;
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  client::Project p = BERTH_TRY(c->CreateProject(Context::Background(), spec));
  Print(ChooseFormat(flags.output), ProjectRows({p}), true);
  return {};
}

Result<> ProjectsList(const RemoteFlags& flags, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  std::vector<client::Project> projects = BERTH_TRY(c->ListProjects(Context::Background()));
  Print(ChooseFormat(flags.output), ProjectRows(projects), false);
  return {};
}

Result<> ProjectsGet(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  client::Project p = BERTH_TRY(c->GetProject(Context::Background(), args.id));
  Print(ChooseFormat(flags.output), ProjectRows({p}), true);
  return {};
}

Result<> ProjectsDelete(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  BERTH_TRY(c->DeleteProject(Context::Background(), args.id));
  std::printf("%s\n", args.id.c_str());
  return {};
}

Result<> TokensCreate(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  std::chrono::seconds expires{0};
  if (!args.expires.empty()) {
    Result<std::chrono::seconds> d = ParseDuration(args.expires);
    if (!d.ok()) {
      return Usage(exit_code, std::move(d).error());
    }
    expires = *d;
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  client::NewToken made =
      BERTH_TRY(c->CreateProjectToken(Context::Background(), args.id, args.token_name, expires));
  Format format = ChooseFormat(flags.output);
  if (format == Format::kJson) {
    json j = json::parse(made.json, nullptr, false);
    std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    const client::Token& t = made.token;
    Rows rows;
    rows.csv_header = {"id", "name", "project_id", "expires", "secret"};
    rows.table_header = {"ID", "NAME", "PROJECT", "EXPIRES", "SECRET"};
    rows.csv.push_back({t.id, t.name, t.project_id, t.expires_at, made.secret});
    rows.table.push_back({t.id, Or(t.name, "-"), t.project_id,
                          t.expires_at.empty() ? "never" : HumanTime(t.expires_at), made.secret});
    Print(format, rows, true);
  }
  std::fprintf(stderr, "The secret is shown only this once; berthd keeps only its hash.\n");
  return {};
}

Result<> TokensList(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  // Checks the project first, so that a project the caller cannot see is NotFound, not empty.
  BERTH_TRY(c->GetProject(ctx, args.id));
  std::vector<client::Token> tokens;
  for (client::Token& t : BERTH_TRY(c->ListTokens(ctx))) {
    if (t.project_id == args.id) {
      tokens.push_back(std::move(t));
    }
  }
  Print(ChooseFormat(flags.output), TokenRows(tokens), false);
  return {};
}

Result<> TokensRevoke(const RemoteFlags& flags, const ProjectArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  BERTH_TRY(c->RevokeToken(Context::Background(), args.token_id));
  std::printf("%s\n", args.token_id.c_str());
  return {};
}

// ---- list builds

struct BuildListArgs {
  std::string project;
  int limit = 50;
};

Result<> ListBuilds(const RemoteFlags& flags, const BuildListArgs& args, int& exit_code) {
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return Error::FromErrno("getcwd", errno);
  }
  Result<client::ProjectChoice> project =
      client::ResolveProject(args.project, client::ProcessEnv(), {cwd});
  if (!project.ok()) {
    return Usage(exit_code, std::move(project).error());
  }
  if (project->id.empty()) {
    return Usage(exit_code,
                 Error::InvalidArgument("no project: pass --project, set BERTH_PROJECT or run "
                                        "`berth init` to write a berth.json"));
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Result<std::vector<client::Build>> builds =
      c->ListBuilds(Context::Background(), project->id, {.limit = args.limit});
  if (!builds.ok()) {
    // A project named by a file the user may have forgotten: say which file.
    if (project->source.ends_with(".json")) {
      return std::move(builds).error().AddContext("the project of " + project->source);
    }
    return std::move(builds).error();
  }
  Print(ChooseFormat(flags.output), BuildRows(*builds), false);
  return {};
}

// ---- pull-token

struct PullTokenArgs {
  std::string build;  // optional: the build whose project's repository the token reads
  std::string project;
};

// A short-lived token that may only pull from a project's repository in berthd's registry,
// for `docker login -u x-token` / `skopeo --creds x-token:TOKEN` (the registry's token endpoint
// mints it from the caller's own token; it never grants more than that token may do).
Result<> PullToken(const RemoteFlags& flags, const PullTokenArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  std::string project;
  if (!args.build.empty()) {
    project = BERTH_TRY(c->GetBuild(ctx, args.build)).project_id;
  } else {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return Error::FromErrno("getcwd", errno);
    }
    Result<client::ProjectChoice> choice =
        client::ResolveProject(args.project, client::ProcessEnv(), {cwd});
    if (!choice.ok()) {
      return Usage(exit_code, std::move(choice).error());
    }
    if (choice->id.empty()) {
      return Usage(exit_code, Error::InvalidArgument(
                                  "no project: pass a build id or --project, set BERTH_PROJECT "
                                  "or run `berth init` to write a berth.json"));
    }
    project = choice->id;
  }
  std::string answer =
      BERTH_TRY_CONTEXT(c->Call(ctx, "GET",
                                "/v2/token?service=berthd&scope=" +
                                    registry::QueryEscape("repository:" + project + ":pull")),
                        "minting a pull token");
  json j = json::parse(answer, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return Error::DataLoss("the registry's token endpoint answered without a token");
  }
  std::string registry_host = client::RegistryHost(c->base_url());
  if (ChooseFormat(flags.output) == Format::kJson) {
    json out = {{"token", j["token"]},
                {"username", "x-token"},
                {"expires_in", j.value("expires_in", 0)},
                {"registry", registry_host},
                {"repository", registry_host + "/" + project}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", j["token"].get<std::string>().c_str());
    if (isatty(STDOUT_FILENO) != 0) {
      std::fprintf(stderr,
                   "a pull-only token for %s/%s, valid %d s: docker login %s -u x-token "
                   "--password-stdin\n",
                   registry_host.c_str(), project.c_str(), j.value("expires_in", 0),
                   registry_host.c_str());
    }
  }
  return {};
}

// ---- cache ls / reset

struct CacheArgs {
  std::string project;
  std::string root;  // --root: the local state directory
};

// Where `berth cache` works: on berthd, decided as `berth build` decides (a host from --host or
// BERTH_HOST, or a login plus a project), else on the local state directory (project "").
struct CacheTarget {
  bool remote = false;
  std::string root;  // local
  client::ProjectChoice project;
};

Result<CacheTarget> ResolveCacheTarget(const RemoteFlags& flags, const CacheArgs& args,
                                       int& exit_code) {
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return Error::FromErrno("getcwd", errno);
  }
  client::Getenv env = client::ProcessEnv();
  Result<client::ProjectChoice> project = client::ResolveProject(args.project, env, {cwd});
  if (!project.ok()) {
    return Usage(exit_code, std::move(project).error());
  }
  CacheTarget target;
  target.project = *project;
  bool explicit_host = !flags.server.host.empty() || !env("BERTH_HOST").empty();
  if (!args.root.empty()) {
    if (explicit_host) {
      return Usage(exit_code, Error::InvalidArgument(
                                  "--root names the local cache and --host (or BERTH_HOST) a "
                                  "berthd: give one"));
    }
  } else {
    target.remote =
        explicit_host || (client::ResolveHost(flags.server, env).ok() && !project->id.empty());
  }
  if (target.remote) {
    if (project->id.empty()) {
      return Usage(exit_code,
                   Error::InvalidArgument("no project: pass --project, set BERTH_PROJECT or run "
                                          "`berth init` to write a berth.json"));
    }
    return target;
  }
  if (!args.project.empty()) {
    return Usage(exit_code, Error::InvalidArgument(
                                "--project " + args.project +
                                ": projects live on berthd; give --host (or BERTH_HOST) or log "
                                "in with `berth login` (the local cache has no projects)"));
  }
  target.project = {};
  Result<std::string> root = images::ResolveRootPath(args.root);
  if (!root.ok()) {
    return Usage(exit_code, std::move(root).error());
  }
  target.root = *root;
  return target;
}

// A local record as berthd's API shows a cache entry (service/cache_api.h).
client::CacheEntry EntryOf(const cache::Record& r) {
  client::CacheEntry e{.key = r.key,
                       .description = r.description,
                       .location = r.location,
                       .platform = r.platform,
                       .size = r.size,
                       .created_at = FormatRfc3339Nano(r.created_at),
                       .last_used_at = FormatRfc3339Nano(r.last_used_at)};
  e.json = json{{"key", e.key},
                {"description", e.description},
                {"location", e.location},
                {"platform", e.platform},
                {"size", e.size},
                {"created_at", e.created_at},
                {"last_used_at", e.last_used_at},
                {"layers", r.layers.size()}}
               .dump();
  return e;
}

Rows CacheRows(const std::vector<client::CacheEntry>& entries) {
  Rows rows;
  rows.csv_header = {"key", "size", "step", "location", "platform", "created", "last_used"};
  rows.table_header = {"KEY", "SIZE", "STEP", "LOCATION", "PLATFORM", "LAST USED"};
  for (const client::CacheEntry& e : entries) {
    rows.csv.push_back({e.key, std::to_string(e.size), e.description, e.location, e.platform,
                        e.created_at, e.last_used_at});
    std::string key = e.key.starts_with("sha256:") ? e.key.substr(7) : e.key;
    rows.table.push_back({key.substr(0, std::min<size_t>(key.size(), 12)),
                          e.size > 0 ? HumanBytes(e.size) : "0B", Or(e.description, "-"),
                          Or(e.location, "-"), Or(e.platform, "-"), HumanTime(e.last_used_at)});
    rows.objects.push_back(e.json);
  }
  return rows;
}

Result<> CacheList(const RemoteFlags& flags, const CacheArgs& args, int& exit_code) {
  CacheTarget target = BERTH_TRY(ResolveCacheTarget(flags, args, exit_code));
  Context ctx = Context::Background();
  client::CacheList list;
  if (target.remote) {
    std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
    Result<client::CacheList> got = c->ListCache(ctx, target.project.id);
    if (!got.ok()) {
      if (target.project.source.ends_with(".json")) {
        return std::move(got).error().AddContext("the project of " + target.project.source);
      }
      return std::move(got).error();
    }
    list = std::move(got).value();
  } else {
    for (const cache::Record& r : BERTH_TRY(engine::ListCache(ctx, target.root, ""))) {
      list.entries.push_back(EntryOf(r));
      list.total_bytes += r.size;
    }
  }
  Format format = ChooseFormat(flags.output);
  Print(format, CacheRows(list.entries), false);
  if (format == Format::kTable) {
    std::printf("%zu entries, %s%s\n", list.entries.size(),
                list.total_bytes > 0 ? HumanBytes(list.total_bytes).c_str() : "0B",
                list.cap_bytes > 0 ? (" (cap " + HumanBytes(list.cap_bytes) + ")").c_str() : "");
  }
  return {};
}

Result<> CacheReset(const RemoteFlags& flags, const CacheArgs& args, int& exit_code) {
  CacheTarget target = BERTH_TRY(ResolveCacheTarget(flags, args, exit_code));
  Context ctx = Context::Background();
  client::CacheReset reset;
  int64_t blobs = -1;  // local only
  int64_t blob_bytes = 0;
  if (target.remote) {
    std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
    reset = BERTH_TRY(c->ResetCache(ctx, target.project.id));
  } else {
    engine::CacheCleanup done = BERTH_TRY(engine::ResetCache(ctx, target.root, ""));
    // Then the blobs no image needs any more (exported layers of the dropped steps); a running
    // build's are held by its lease. (Not on berthd: its builder's content store also holds the
    // registry's blobs.)
    std::unique_ptr<images::Root> root = BERTH_TRY(images::Root::Open(target.root));
    content::GcStats gc =
        BERTH_TRY_CONTEXT(root->images().GarbageCollect(ctx), "collecting unused blobs");
    blobs = static_cast<int64_t>(gc.blobs_removed);
    blob_bytes = static_cast<int64_t>(gc.bytes_removed);
    reset = {.entries = done.entries,
             .bytes = done.bytes,
             .snapshots = done.snapshots,
             .cache_mounts = done.cache_mounts,
             .deferred = done.deferred};
    reset.json = json{{"entries", reset.entries},     {"bytes", reset.bytes},
                      {"snapshots", reset.snapshots}, {"cache_mounts", reset.cache_mounts},
                      {"deferred", reset.deferred},   {"blobs", blobs},
                      {"blob_bytes", blob_bytes}}
                     .dump();
  }
  if (flags.output == "json") {
    std::printf("%s\n", json::parse(reset.json, nullptr, false).dump(2).c_str());
    return {};
  }
  std::string where = target.remote ? "project " + target.project.id : target.root;
  std::printf("cache of %s reset: %lld entries (%s), %lld snapshots removed\n", where.c_str(),
              static_cast<long long>(reset.entries),
              reset.bytes > 0 ? HumanBytes(reset.bytes).c_str() : "0B",
              static_cast<long long>(reset.snapshots));
  if (blobs >= 0) {
    std::printf("%lld unused blobs removed (%s)\n", static_cast<long long>(blobs),
                blob_bytes > 0 ? HumanBytes(blob_bytes).c_str() : "0B");
  }
  if (reset.deferred) {
    std::printf(
        "a build is running: its snapshots and the cache mounts are removed by the next reset "
        "or eviction\n");
  }
  return {};
}

}  // namespace

// clang-format off
void RegisterRemoteCommands(CLI::App& app, int& exit_code) {
  // Owned by the callbacks: they run inside app.parse(), while `app` holds them.
  auto flags = std::make_shared<RemoteFlags>();

  auto login_args = std::make_shared<LoginArgs>();
  auto* login = app.add_subcommand("login", "Log in to a berthd server: verify a token and store it");
  login->add_option("HOST", login_args->host,
                    "berthd address (default: --host, $BERTH_HOST, the current login)");
  AddServerFlags(login, *flags);
  login->callback([flags, login_args, &exit_code] {
    Report(exit_code, [&] { return Login(*flags, *login_args, exit_code); });
  });

  auto logout_args = std::make_shared<LoginArgs>();
  auto* logout = app.add_subcommand("logout", "Forget the token stored for a berthd server");
  logout->add_option("HOST", logout_args->host,
                     "berthd address (default: --host, $BERTH_HOST, the current login)");
  logout->add_option("--host", flags->server.host, "berthd address");
  logout->callback([flags, logout_args, &exit_code] {
    Report(exit_code, [&] { return Logout(*flags, *logout_args, exit_code); });
  });

  auto init_args = std::make_shared<InitArgs>();
  auto* init = app.add_subcommand("init", "Write berth.json in this directory: the project its builds use");
  auto* init_project = init->add_option("--project", init_args->project, "An existing project's id");
  init->add_option("--name", init_args->name, "Create a project with this name")
      ->excludes(init_project);
  init->add_flag("--force", init_args->force, "Replace an existing berth.json");
  AddServerFlags(init, *flags);
  init->callback([flags, init_args, &exit_code] {
    Report(exit_code, [&] { return Init(*flags, *init_args, exit_code); });
  });

  auto project_args = std::make_shared<ProjectArgs>();
  auto* projects = app.add_subcommand("projects", "Manage berthd projects");
  projects->require_subcommand(1);

  auto* create = projects->add_subcommand("create", "Create a project");
  create->add_option("NAME", project_args->name, "Project name")->required();
  create->add_option("--region", project_args->region, "Region label");
  create->add_option("--cache-cap", project_args->cache_cap,
                     "Cache size cap in bytes (suffixes k, m, g, t: binary units; default: none)");
  create->add_option("--retention-days", project_args->retention_days,
                     "Days saved builds are kept (1 to 3650; default: 7)")
      ->check(CLI::Range(1, 3650));
  AddServerFlags(create, *flags);
  AddOutputFlag(create, *flags);
  create->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return ProjectsCreate(*flags, *project_args, exit_code); });
  });

  auto* plist = projects->add_subcommand("list", "List the projects the token can see");
  plist->alias("ls");
  AddServerFlags(plist, *flags);
  AddOutputFlag(plist, *flags);
  plist->callback([flags, &exit_code] {
    Report(exit_code, [&] { return ProjectsList(*flags, exit_code); });
  });

  auto* get = projects->add_subcommand("get", "Show a project");
  get->add_option("ID", project_args->id, "Project id")->required();
  AddServerFlags(get, *flags);
  AddOutputFlag(get, *flags);
  get->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return ProjectsGet(*flags, *project_args, exit_code); });
  });

  auto* del = projects->add_subcommand("delete", "Delete a project with its builds and tokens");
  del->alias("rm");
  del->add_option("ID", project_args->id, "Project id")->required();
  AddServerFlags(del, *flags);
  del->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return ProjectsDelete(*flags, *project_args, exit_code); });
  });

  auto* tokens = projects->add_subcommand("tokens", "Manage a project's tokens");
  tokens->require_subcommand(1);
  auto* tcreate = tokens->add_subcommand(
      "create", "Create a token that reaches only this project (its secret is shown once)");
  tcreate->add_option("PROJECT", project_args->id, "Project id")->required();
  tcreate->add_option("--name", project_args->token_name, "A name for the token");
  tcreate->add_option("--expires", project_args->expires,
                      "Lifetime, e.g. 24h, 30d, 1h30m (default: never expires)");
  AddServerFlags(tcreate, *flags);
  AddOutputFlag(tcreate, *flags);
  tcreate->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return TokensCreate(*flags, *project_args, exit_code); });
  });

  auto* tlist = tokens->add_subcommand("list", "List a project's tokens (never their secrets)");
  tlist->alias("ls");
  tlist->add_option("PROJECT", project_args->id, "Project id")->required();
  AddServerFlags(tlist, *flags);
  AddOutputFlag(tlist, *flags);
  tlist->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return TokensList(*flags, *project_args, exit_code); });
  });

  auto* trevoke = tokens->add_subcommand("revoke", "Revoke a token");
  trevoke->add_option("TOKEN_ID", project_args->token_id, "Token id (not the secret)")->required();
  AddServerFlags(trevoke, *flags);
  trevoke->callback([flags, project_args, &exit_code] {
    Report(exit_code, [&] { return TokensRevoke(*flags, *project_args, exit_code); });
  });

  auto* list = app.add_subcommand("list", "List berthd projects or builds");
  list->require_subcommand(1);
  auto* lprojects = list->add_subcommand("projects", "List the projects the token can see");
  AddServerFlags(lprojects, *flags);
  AddOutputFlag(lprojects, *flags);
  lprojects->callback([flags, &exit_code] {
    Report(exit_code, [&] { return ProjectsList(*flags, exit_code); });
  });

  auto build_args = std::make_shared<BuildListArgs>();
  auto* lbuilds = list->add_subcommand("builds", "List a project's builds, newest first");
  lbuilds->add_option("--project", build_args->project,
                      "Project id (default: $BERTH_PROJECT, else berth.json or depot.json in "
                      "this directory or above)");
  lbuilds->add_option("--limit", build_args->limit, "At most this many builds")
      ->check(CLI::Range(1, 1000));
  AddServerFlags(lbuilds, *flags);
  AddOutputFlag(lbuilds, *flags);
  lbuilds->callback([flags, build_args, &exit_code] {
    Report(exit_code, [&] { return ListBuilds(*flags, *build_args, exit_code); });
  });

  auto pull_token_args = std::make_shared<PullTokenArgs>();
  auto* pull_token = app.add_subcommand(
      "pull-token", "Mint a short-lived pull-only token for a project's repository in berthd's "
                    "registry (docker login -u x-token)");
  pull_token->add_option("BUILD", pull_token_args->build,
                         "A build id: the token reads its project's repository");
  pull_token->add_option("--project", pull_token_args->project,
                         "Project id (default: $BERTH_PROJECT, else berth.json or depot.json "
                         "in this directory or above)");
  AddServerFlags(pull_token, *flags);
  pull_token->add_option("--output", flags->output, "Output format: token (default) or json");
  pull_token->callback([flags, pull_token_args, &exit_code] {
    Report(exit_code, [&] { return PullToken(*flags, *pull_token_args, exit_code); });
  });

  auto cache_args = std::make_shared<CacheArgs>();
  auto* cache = app.add_subcommand("cache", "Show or reset the build cache (local, or a project's on berthd)");
  cache->require_subcommand(1);
  auto add_cache_flags = [&](CLI::App* cmd) {
    cmd->add_option("--project", cache_args->project,
                    "Project id on berthd (default: $BERTH_PROJECT, else berth.json or "
                    "depot.json in this directory or above)");
    cmd->add_option("--root", cache_args->root,
                    "Local berth state directory (default: $BERTH_ROOT, /var/lib/berth as root, "
                    "else $XDG_DATA_HOME/berth)");
    AddServerFlags(cmd, *flags);
    AddOutputFlag(cmd, *flags);
  };
  auto* cls = cache->add_subcommand("ls", "List cache entries: size, step, Dockerfile line, platform, last use");
  cls->alias("list");
  add_cache_flags(cls);
  cls->callback([flags, cache_args, &exit_code] {
    Report(exit_code, [&] { return CacheList(*flags, *cache_args, exit_code); });
  });
  auto* creset = cache->add_subcommand("reset", "Drop the cache: entries, their snapshots and RUN cache mounts");
  add_cache_flags(creset);
  creset->callback([flags, cache_args, &exit_code] {
    Report(exit_code, [&] { return CacheReset(*flags, *cache_args, exit_code); });
  });
}
// clang-format on

}  // namespace berth::cmd
