#include "cmd/berth/image.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "archive/apply.h"
#include "archive/tar_writer.h"
#include "base/error.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "cmd/berth/remote_common.h"
#include "cmd/berth/saved.h"
#include "compress/compress.h"
#include "engine/engine.h"
#include "images/blob_source.h"
#include "images/import.h"
#include "images/root.h"
#include "images/save.h"
#include "images/summary.h"
#include "oci/blob_source.h"
#include "oci/platform.h"
#include "os/file.h"
#include "platform/platform.h"
#include "reference/reference.h"
#include "registry/client.h"
#include "registry/progress.h"
#include "registry/transfer.h"

namespace berth::cmd {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void PrintError(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.ToString().c_str());
}

struct ImageFlags {
  std::string root;  // --root; "" = BERTH_ROOT or the default
};

Result<std::unique_ptr<images::Root>> OpenRoot(const ImageFlags& flags) {
  std::string path = BERTH_TRY(images::ResolveRootPath(flags.root));
  return images::Root::Open(path);
}

// ---- import ----

struct ImportFlags {
  std::string source;
  std::string name;
  std::string platform;
  std::vector<std::string> changes;
  std::string message;
  std::string compression = "gzip";
  bool no_unpack = false;
};

// Unpacks a stored image into the snapshots builds start from (as `buildah from` does), so the
// first build on it needs no unpacking. Needs root (overlay snapshots keep owners); when it
// cannot, the build unpacks later, so this only warns.
void UnpackForBuilds(const Context& ctx, const std::string& root, const std::string& name) {
  if (geteuid() != 0) {
    return;
  }
  Result<size_t> unpacked = engine::UnpackStoredImage(ctx, root, name);
  if (!unpacked.ok()) {
    std::fprintf(stderr, "warning: %s is stored but not unpacked for builds: %s\n", name.c_str(),
                 unpacked.error().ToString().c_str());
  }
}

// Parses a CMD or ENTRYPOINT value as Dockerfile does: a JSON array of strings (exec form), else
// a command for /bin/sh -c (shell form).
Result<std::vector<std::string>> ParseCommand(const std::string& value) {
  std::string_view v = value;
  while (!v.empty() && v.front() == ' ') {
    v.remove_prefix(1);
  }
  if (v.starts_with('[')) {
    try {
      nlohmann::json j = nlohmann::json::parse(v);
      std::vector<std::string> args;
      for (const nlohmann::json& e : j) {
        if (!e.is_string()) {
          return Error::InvalidArgument("not an array of strings: " + value);
        }
        args.push_back(e.get<std::string>());
      }
      return args;
    } catch (const nlohmann::json::exception&) {
      // Not JSON after all: Docker then takes the shell form.
    }
  }
  return std::vector<std::string>{"/bin/sh", "-c", std::string(v)};
}

// Applies one `--change "INSTRUCTION value"` (CMD, ENTRYPOINT, ENV, WORKDIR, USER).
Result<> ApplyChange(const std::string& change, images::ImportOptions& options) {
  size_t space = change.find_first_of(" \t");
  std::string keyword = change.substr(0, space);
  std::string value = space == std::string::npos ? "" : change.substr(space + 1);
  std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  size_t start = value.find_first_not_of(" \t");
  value = start == std::string::npos ? "" : value.substr(start);
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument("--change \"" + change + "\": " + why);
  };
  if (value.empty()) {
    return bad("missing a value");
  }
  if (keyword == "CMD") {
    options.cmd = BERTH_TRY(ParseCommand(value));
  } else if (keyword == "ENTRYPOINT") {
    options.entrypoint = BERTH_TRY(ParseCommand(value));
  } else if (keyword == "ENV") {
    size_t eq = value.find('=');
    size_t ws = value.find_first_of(" \t");
    std::string entry;
    if (eq != std::string::npos && (ws == std::string::npos || eq < ws)) {
      entry = value;  // KEY=value
    } else if (ws != std::string::npos) {
      entry = value.substr(0, ws) + "=" + value.substr(value.find_first_not_of(" \t", ws));
    } else {
      return bad("want ENV KEY=value");
    }
    std::string key = entry.substr(0, entry.find('='));
    std::erase_if(options.env, [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
    options.env.push_back(entry);
  } else if (keyword == "WORKDIR") {
    options.working_dir = value;
  } else if (keyword == "USER") {
    options.user = value;
  } else {
    return bad("only CMD, ENTRYPOINT, ENV, WORKDIR and USER can be changed");
  }
  return {};
}

Result<> ImageImport(const ImageFlags& image_flags, const ImportFlags& flags, int& exit_code) {
  images::ImportOptions options;
  for (const std::string& change : flags.changes) {
    if (Result<> r = ApplyChange(change, options); !r.ok()) {
      exit_code = kExitUsage;
      return r;
    }
  }
  if (!flags.platform.empty()) {
    Result<platform::Platform> p = platform::ParsePlatform(flags.platform);
    if (!p.ok()) {
      exit_code = kExitUsage;
      return std::move(p).error().AddContext("--platform");
    }
    options.platform = *p;
  }
  options.compression = BERTH_TRY(compress::ParseFormat(flags.compression));
  options.source_date_epoch = BERTH_TRY(archive::SourceDateEpochFromEnv());
  options.comment = flags.message;
  std::unique_ptr<images::Root> root = BERTH_TRY(OpenRoot(image_flags));
  Context ctx = Context::Background();
  images::ImportResult result = BERTH_TRY(
      images::Import(ctx, root->content(), root->images(), flags.source, flags.name, options));
  if (!flags.no_unpack && (!options.platform || *options.platform == platform::HostPlatform())) {
    UnpackForBuilds(ctx, root->path(), result.image.name);
  }
  std::printf("%s\n", result.image.target.digest.ToString().c_str());
  return {};
}

// ---- ls ----

// Parses the "YYYY-MM-DDTHH:MM:SS" start of an RFC 3339 time (UTC offsets honoured only as Z,
// which is what berth and most builders write; fractions are ignored).
std::optional<int64_t> ParseTime(const std::string& rfc3339) {
  struct tm tm {};
  const char* end = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm));
}

// Docker's units.HumanDuration, followed by " ago".
std::string HumanAge(const std::string& created) {
  std::optional<int64_t> t = ParseTime(created);
  if (!t) {
    return "N/A";
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t s = now - *t;
  auto n = [](int64_t v, const char* unit) {
    return std::to_string(v) + " " + unit + " ago";
  };
  if (s < 1) {
    return "Less than a second ago";
  }
  if (s == 1) {
    return "1 second ago";
  }
  if (s < 60) {
    return n(s, "seconds");
  }
  int64_t minutes = s / 60;
  if (minutes == 1) {
    return "About a minute ago";
  }
  if (minutes < 60) {
    return n(minutes, "minutes");
  }
  int64_t hours = (s + 1800) / 3600;
  if (hours == 1) {
    return "About an hour ago";
  }
  if (hours < 48) {
    return n(hours, "hours");
  }
  if (hours < 24 * 7 * 2) {
    return n(hours / 24, "days");
  }
  if (hours < 24 * 30 * 2) {
    return n(hours / 24 / 7, "weeks");
  }
  if (hours < 24 * 365 * 2) {
    return n(hours / 24 / 30, "months");
  }
  return n(hours / 24 / 365, "years");
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 3, ' ');
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

Result<> ImageList(const ImageFlags& image_flags, const std::string& format, bool quiet) {
  std::unique_ptr<images::Root> root = BERTH_TRY(OpenRoot(image_flags));
  Context ctx = Context::Background();
  std::vector<images::Image> all = BERTH_TRY(root->images().List(ctx));
  std::vector<images::ImageSummary> summaries;
  for (const images::Image& image : all) {
    summaries.push_back(BERTH_TRY(images::Summarize(ctx, root->content(), image)));
  }
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const images::ImageSummary& s : summaries) {
      out.push_back({{"name", s.image.name},
                     {"repository", s.repository},
                     {"tag", s.tag},
                     {"digest", s.image.target.digest.ToString()},
                     {"mediaType", s.image.target.media_type},
                     {"size", s.size},
                     {"created", s.created},
                     {"platform", s.platform},
                     {"complete", s.complete}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return {};
  }
  if (quiet) {
    for (const images::ImageSummary& s : summaries) {
      std::printf("%s\n", s.image.name.c_str());
    }
    return {};
  }
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "DIGEST", "SIZE", "CREATED"}};
  for (const images::ImageSummary& s : summaries) {
    rows.push_back({s.repository, s.tag.empty() ? "<none>" : s.tag,
                    s.image.target.digest.ToString(), HumanSize(s.size), HumanAge(s.created)});
  }
  PrintTable(rows);
  return {};
}

// ---- rm ----

void ImageRemove(const ImageFlags& image_flags, const std::vector<std::string>& names,
                 int& exit_code) {
  Result<std::unique_ptr<images::Root>> root = OpenRoot(image_flags);
  if (!root.ok()) {
    PrintError(root.error());
    exit_code = kExitFailed;
    return;
  }
  Context ctx = Context::Background();
  for (const std::string& name : names) {
    Result<images::Image> image = (*root)->images().Get(ctx, name);
    Result<content::GcStats> deleted =
        image.ok() ? (*root)->images().Delete(ctx, name) : Result<content::GcStats>(image.error());
    if (!deleted.ok()) {
      PrintError(deleted.error());
      exit_code = kExitFailed;
      continue;
    }
    Result<reference::Reference> ref = reference::ParseNormalized(image->name);
    std::printf("Untagged: %s\n", ref.ok() ? ref->Familiar().c_str() : image->name.c_str());
    if (deleted->blobs_removed > 0) {
      std::printf("Deleted: %zu blobs, %s\n", deleted->blobs_removed,
                  HumanSize(static_cast<int64_t>(deleted->bytes_removed)).c_str());
    }
  }
  // A one-shot command is the idle moment the content store waits for to delete its trash.
  if (Result<size_t> emptied = (*root)->content().EmptyTrash(ctx); !emptied.ok()) {
    PrintError(emptied.error());
    exit_code = kExitFailed;
  }
}

// ---- save ----

struct SaveFlags {
  std::vector<std::string> names;
  std::string output;
  std::string format = "docker";
};

Result<> ImageSave(const ImageFlags& image_flags, const SaveFlags& flags, int& exit_code) {
  images::SaveFormat format = BERTH_TRY(images::ParseSaveFormat(flags.format));
  if (flags.output.empty() || flags.output == "-") {
    if (isatty(STDOUT_FILENO) != 0) {
      exit_code = kExitUsage;
      return Error::InvalidArgument(
          "refusing to write an archive to a terminal: use -o FILE or redirect the output");
    }
  }
  std::unique_ptr<images::Root> root = BERTH_TRY(OpenRoot(image_flags));
  Context ctx = Context::Background();
  if (flags.output.empty() || flags.output == "-") {
    FdWriter out(STDOUT_FILENO);
    BERTH_TRY(images::Save(ctx, root->content(), root->images(), flags.names, format, out));
    return out.Close();
  }
  // Written beside the destination and renamed into place, so a failed save leaves no
  // half-written archive under the name.
  std::string tmp = flags.output + ".tmp-" + std::to_string(getpid());
  UniqueFd fd = BERTH_TRY(os::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ScopeExit remove_tmp([&] { unlink(tmp.c_str()); });
  FdWriter out(std::move(fd));
  BERTH_TRY_CONTEXT(images::Save(ctx, root->content(), root->images(), flags.names, format, out),
                    "saving to " + flags.output);
  BERTH_TRY(out.Close());
  if (rename(tmp.c_str(), flags.output.c_str()) != 0) {
    return Error::FromErrno("rename " + tmp + " to " + flags.output, errno);
  }
  remove_tmp.Cancel();
  return {};
}

// ---- pull / push ----

struct PullFlags {
  std::string ref;
  std::string platform;
  bool quiet = false;
  bool no_unpack = false;
};

// Plain progress lines on stderr, one report per line so CI logs stay readable:
//   pull sha256:0123456789ab: 12.3MB / 45.6MB      (at most four a second per blob)
//   pull sha256:0123456789ab: done (45.6MB in 0.8s)
//   push sha256:0123456789ab: exists (45.6MB)       (or: mounted)
class ProgressLines {
 public:
  explicit ProgressLines(std::string verb) : verb_(std::move(verb)) {}

  // A ProgressFn drawing on this object, which must outlive it.
  registry::ProgressFn Fn() {
    return registry::ThrottledProgress([this](const registry::BlobProgress& p) { Print(p); },
                                       std::chrono::milliseconds(250));
  }

 private:
  using Clock = std::chrono::steady_clock;
  using State = registry::BlobProgress::State;

  // Called from transfer threads, concurrently for different blobs.
  void Print(const registry::BlobProgress& p) {
    std::string id = p.digest.ToString().substr(0, 7 + 12);
    std::string total = HumanSize(static_cast<int64_t>(p.total));
    std::string what;
    switch (p.state) {
      case State::kStarted: {
        std::lock_guard lock(mu_);
        started_[p.digest] = Clock::now();
        return;
      }
      case State::kTransferring:
        what = HumanSize(static_cast<int64_t>(p.done)) + " / " + total;
        break;
      case State::kDone: {
        double seconds = 0;
        {
          std::lock_guard lock(mu_);
          auto it = started_.find(p.digest);
          if (it != started_.end()) {
            seconds = std::chrono::duration<double>(Clock::now() - it->second).count();
            started_.erase(it);
          }
        }
        char secs[32];
        std::snprintf(secs, sizeof(secs), "%.1fs", seconds);
        what = "done (" + total + " in " + secs + ")";
        break;
      }
      case State::kExists:
      case State::kMounted: {
        std::lock_guard lock(mu_);
        started_.erase(p.digest);
        what = std::string(p.state == State::kExists ? "exists" : "mounted") + " (" + total + ")";
        break;
      }
    }
    // One call per line, so lines from parallel transfers do not interleave.
    std::fprintf(stderr, "%s %s: %s\n", verb_.c_str(), id.c_str(), what.c_str());
  }

  std::string verb_;
  std::mutex mu_;
  std::map<digest::Digest, Clock::time_point> started_;  // guarded by mu_
};

Result<> ImagePull(const ImageFlags& flags, const PullFlags& pull) {
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(pull.ref));
  std::string root = BERTH_TRY(images::ResolveRootPath(flags.root));
  std::unique_ptr<registry::Client> client = BERTH_TRY(registry::Client::FromEnvironment(root));
  return PullImage(root, *client, ref,
                   {.platform = pull.platform,
                    .names = {ref.String()},
                    .quiet = pull.quiet,
                    .no_unpack = pull.no_unpack});
}

Result<> ImagePush(const ImageFlags& flags, const std::vector<std::string>& names, bool quiet) {
  std::unique_ptr<images::Root> root = BERTH_TRY(OpenRoot(flags));
  std::unique_ptr<registry::Client> client =
      BERTH_TRY(registry::Client::FromEnvironment(root->path()));
  Context ctx = Context::Background();
  images::ContentBlobSource source(ctx, root->content());
  ProgressLines lines("push");
  registry::ProgressFn progress = quiet ? registry::ProgressFn() : lines.Fn();
  for (const std::string& name : names) {
    reference::Reference ref = BERTH_TRY(reference::ParseNormalized(name));
    images::Image image = BERTH_TRY(root->images().Get(ctx, ref.String()));
    BERTH_TRY_CONTEXT(registry::Push(ctx, *client, source, image.target, {ref}, progress),
                      "pushing " + ref.Familiar());
    std::printf("%s: %s\n", ref.Familiar().c_str(), image.target.digest.ToString().c_str());
  }
  return {};
}

// ---- unpack ----

// Whether `path` is missing or an empty directory.
Result<bool> MissingOrEmptyDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return true;
    }
    return Error::FromErrno("opening " + path, errno);
  }
  bool empty = true;
  while (struct dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread
    std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Applies the layers of image `name` (the host platform's manifest of an index) in order onto
// `dir`, which must be missing or empty. The layers come from the content store, where pull and
// import verified them; archive::ApplyLayer refuses hostile entries.
Result<> ImageUnpack(const ImageFlags& flags, const std::string& name, const std::string& dir) {
  std::unique_ptr<images::Root> root = BERTH_TRY(OpenRoot(flags));
  Context ctx = Context::Background();
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(name));
  images::Image image = BERTH_TRY(root->images().Get(ctx, ref.String()));
  images::ContentBlobSource blobs(ctx, root->content());
  oci::Descriptor manifest_desc = BERTH_TRY(oci::ResolveManifest(
      blobs, image.target, oci::PlatformMatcher::Compatible(platform::HostPlatform())));
  oci::Manifest manifest = BERTH_TRY(oci::ReadManifest(blobs, manifest_desc));
  if (!BERTH_TRY(MissingOrEmptyDir(dir))) {
    return Error::AlreadyExists(dir + " exists and is not empty");
  }
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::FromErrno("mkdir " + dir, errno);
  }
  archive::ApplyOptions options;
  // Later layers resolve paths through earlier layers' symlinks (a usrmerge /lib -> usr/lib),
  // as inside the container's root, so nothing escapes `dir`.
  options.follow_symlinks_in_root = true;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const oci::Descriptor& layer = manifest.layers[i];
    std::unique_ptr<Reader> in = BERTH_TRY(blobs.Open(layer.digest));
    BERTH_TRY_CONTEXT(archive::ApplyLayer(ctx, *in, dir, options),
                      "unpacking layer " + std::to_string(i + 1) + " (" + layer.digest.ToString() +
                          ") of " + ref.Familiar());
  }
  return {};
}

}  // namespace

Result<> PullImage(const std::string& root_path, registry::Client& client,
                   const reference::Reference& ref, const PullOptions& options) {
  std::unique_ptr<images::Root> root = BERTH_TRY(images::Root::Open(root_path));
  platform::Platform wanted = platform::HostPlatform();
  if (!options.platform.empty()) {
    wanted = BERTH_TRY_CONTEXT(platform::ParsePlatform(options.platform), "--platform");
  }
  Context ctx = Context::Background();
  ProgressLines lines("pull");
  registry::PullResult pulled = BERTH_TRY(
      registry::Pull(ctx, client, ref, oci::PlatformMatcher::Compatible(wanted), root->content(),
                     options.quiet ? registry::ProgressFn() : lines.Fn()));
  // The store keeps the platform's manifest: only its blobs were fetched.
  for (const std::string& name : options.names) {
    std::string normalized = BERTH_TRY_CONTEXT(images::NormalizeName(name), "name " + name);
    BERTH_TRY(root->images().Put(ctx, normalized, pulled.manifest));
    if (!options.no_unpack && wanted == platform::HostPlatform()) {
      UnpackForBuilds(ctx, root->path(), normalized);
    }
    std::printf("%s: %s\n", reference::ParseNormalized(normalized).value().Familiar().c_str(),
                pulled.manifest.digest.ToString().c_str());
  }
  return {};
}

// clang-format 14 loses track of the braces in this function and reflows it wrongly.
// clang-format off
void RegisterImageCommands(CLI::App& app, int& exit_code) {
  // Owned by the callbacks: they run inside app.parse(), while `app` holds them.
  auto image_flags = std::make_shared<ImageFlags>();
  auto* image = app.add_subcommand("image", "Manage images in the local image store");
  image->require_subcommand(1);
  image->add_option("--root", image_flags->root,
                    "berth state directory (default: $BERTH_ROOT, /var/lib/berth as root, "
                    "else $XDG_DATA_HOME/berth)");

  auto import_flags = std::make_shared<ImportFlags>();
  auto* import = image->add_subcommand(
      "import", "Import a root filesystem (a directory or a tar, maybe compressed) as an image");
  import->fallthrough();
  import->add_option("SOURCE", import_flags->source, "Directory, tar file, or - for stdin")
      ->required();
  import->add_option("NAME", import_flags->name, "Image name, e.g. busybox:latest")->required();
  import->add_option("--platform", import_flags->platform,
                     "Platform of the image (default: the host's)");
  import
      ->add_option("-c,--change", import_flags->changes,
                   "Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR or USER")
      ->allow_extra_args(false);
  import->add_option("-m,--message", import_flags->message, "Comment for the history entry");
  import->add_flag("--no-unpack", import_flags->no_unpack,
                   "Only store the image (builds unpack it on first use)");
  import->add_option("--compression", import_flags->compression, "Layer compression")
      ->check(CLI::IsMember({"gzip", "zstd", "uncompressed"}))
      ->default_str("gzip");
  import->callback([image_flags, import_flags, &exit_code] {
    Report(exit_code, [&] { return ImageImport(*image_flags, *import_flags, exit_code); });
  });

  auto ls_format = std::make_shared<std::string>("table");
  auto ls_quiet = std::make_shared<bool>(false);
  auto* ls = image->add_subcommand("ls", "List images");
  ls->alias("list");
  ls->fallthrough();
  ls->add_option("--format", *ls_format, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->default_str("table");
  ls->add_flag("-q,--quiet", *ls_quiet, "Print only image names");
  // --project: the project's saved builds on berthd instead (saved.h).
  auto saved_flags = std::make_shared<RemoteFlags>();
  auto saved_project = std::make_shared<std::string>();
  ls->add_option("--project", *saved_project, "List this berthd project's saved builds instead");
  AddServerFlags(ls, *saved_flags);
  AddOutputFlag(ls, *saved_flags);
  ls->callback([image_flags, ls_format, ls_quiet, saved_flags, saved_project, &exit_code] {
    if (!saved_project->empty() || !saved_flags->server.host.empty()) {
      if (saved_flags->output.empty() && *ls_format == "json") {
        saved_flags->output = "json";
      }
      Report(exit_code, [&] {
        return ListSavedImages(*saved_flags, *saved_project, *ls_quiet, exit_code);
      });
      return;
    }
    Report(exit_code, [&] { return ImageList(*image_flags, *ls_format, *ls_quiet); });
  });

  auto rm_names = std::make_shared<std::vector<std::string>>();
  auto* rm = image->add_subcommand("rm", "Remove images and the blobs no other image uses");
  rm->alias("remove");
  rm->fallthrough();
  rm->add_option("NAME", *rm_names, "Images to remove (with --project: saved builds' tags)")
      ->required();
  rm->add_option("--project", *saved_project, "Remove this berthd project's saved builds instead");
  AddServerFlags(rm, *saved_flags);
  rm->callback([image_flags, rm_names, saved_flags, saved_project, &exit_code] {
    if (!saved_project->empty() || !saved_flags->server.host.empty()) {
      Report(exit_code, [&] {
        return RemoveSavedImages(*saved_flags, *saved_project, *rm_names, exit_code);
      });
      return;
    }
    ImageRemove(*image_flags, *rm_names, exit_code);
  });

  auto pull_flags = std::make_shared<PullFlags>();
  auto* pull = image->add_subcommand("pull", "Pull an image from a registry into the local store");
  pull->fallthrough();
  pull->add_option("REF", pull_flags->ref, "Image reference, e.g. busybox:latest")->required();
  pull->add_option("--platform", pull_flags->platform, "Platform to pull (default: the host's)");
  pull->add_flag("-q,--quiet", pull_flags->quiet, "Print no transfer progress");
  pull->add_flag("--no-unpack", pull_flags->no_unpack,
                 "Only store the image (builds unpack it on first use)");
  pull->callback([image_flags, pull_flags, &exit_code] {
    Report(exit_code, [&] { return ImagePull(*image_flags, *pull_flags); });
  });

  auto push_names = std::make_shared<std::vector<std::string>>();
  auto push_quiet = std::make_shared<bool>(false);
  auto* push = image->add_subcommand("push", "Push images from the local store to their registries");
  push->fallthrough();
  push->add_option("NAME", *push_names, "Images to push, e.g. localhost:5000/app:v1")->required();
  push->add_flag("-q,--quiet", *push_quiet, "Print no transfer progress");
  push->callback([image_flags, push_names, push_quiet, &exit_code] {
    Report(exit_code, [&] { return ImagePush(*image_flags, *push_names, *push_quiet); });
  });

  auto unpack_args = std::make_shared<std::pair<std::string, std::string>>();
  auto* unpack = image->add_subcommand(
      "unpack", "Unpack an image's root filesystem (its layers, in order) into a directory");
  unpack->fallthrough();
  unpack->add_option("NAME", unpack_args->first, "Image in the local store")->required();
  unpack->add_option("DIR", unpack_args->second, "Directory to create (or an empty one)")
      ->required();
  unpack->callback([image_flags, unpack_args, &exit_code] {
    Report(exit_code,
           [&] { return ImageUnpack(*image_flags, unpack_args->first, unpack_args->second); });
  });

  auto save_flags = std::make_shared<SaveFlags>();
  auto* save = image->add_subcommand("save", "Save images to a tar archive (docker or OCI)");
  save->fallthrough();
  save->add_option("NAME", save_flags->names, "Images to save")->required();
  save->add_option("-o,--output", save_flags->output, "Write to a file (default: stdout)");
  save->add_option("--format", save_flags->format, "Archive format")
      ->check(CLI::IsMember({"docker", "oci"}))
      ->default_str("docker");
  save->callback([image_flags, save_flags, &exit_code] {
    Report(exit_code, [&] { return ImageSave(*image_flags, *save_flags, exit_code); });
  });
}
// clang-format on

}  // namespace berth::cmd
