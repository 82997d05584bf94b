#include "engine/runner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "archive/export.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "engine/sources.h"
#include "fileop/checksum.h"
#include "fileop/fileop.h"
#include "os/file.h"
#include "patternmatcher/patternmatcher.h"
#include "snapshot/apply_layer.h"
#include "snapshot/fs_util.h"
#include "snapshot/mount.h"

namespace berth::engine {
namespace {

constexpr std::string_view kImageScheme = "docker-image://";
constexpr std::string_view kGitScheme = "git://";

bool IsRemoteSource(const std::string& identifier) {
  return identifier.starts_with("http://") || identifier.starts_with("https://") ||
         identifier.starts_with(kGitScheme);
}

std::string Attr(const graph::SourceOp& op, const std::string& name) {
  auto it = op.attrs.find(name);
  return it == op.attrs.end() ? "" : it->second;
}
constexpr size_t kTailLines = 10;

std::string Location(const graph::Vertex& vertex) {
  if (vertex.metadata.locations.empty()) {
    return "";
  }
  const graph::Location& l = vertex.metadata.locations.front();
  return l.file + ":" + std::to_string(l.start_line) + ": ";
}

std::string StepName(const graph::Vertex& vertex) {
  return Location(vertex) + vertex.metadata.description;
}

// What a Runner knows about a snapshot it made (the step, its Dockerfile line, its platform),
// kept until IndexCache::Put records it with the result. The solver hands the cache only keys
// and outputs, so the note travels by snapshot name: names are unique per step, except a base
// image's chain snapshot, which two builds may note at once (either note serves).
struct StepNote {
  std::string description;
  std::string location;
  std::string platform;
  const void* owner = nullptr;  // the Runner that noted it; its notes go when it does
};

std::mutex& NotesMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, StepNote>& Notes() {
  static std::map<std::string, StepNote> notes;
  return notes;
}

std::string Compression(const std::string& media_type) {
  if (media_type.ends_with("gzip")) {
    return "gzip";
  }
  if (media_type.ends_with("zstd")) {
    return "zstd";
  }
  return "";
}

// Collects a step's output: forwards whole lines to progress and keeps the last few for errors.
class LogSink {
 public:
  LogSink(Progress* progress, graph::VertexId vertex) : progress_(progress), vertex_(vertex) {}

  void Line(std::string_view line) {
    if (progress_ != nullptr) {
      progress_->Log(vertex_, line);
    }
    std::lock_guard lock(mu_);
    tail_.emplace_back(line);
    if (tail_.size() > kTailLines) {
      tail_.pop_front();
    }
  }

  std::string Tail() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const std::string& l : tail_) {
      out += "\n  " + l;
    }
    return out;
  }

 private:
  Progress* progress_;
  graph::VertexId vertex_;
  std::mutex mu_;
  std::deque<std::string> tail_;
};

class LogWriter final : public Writer {
 public:
  explicit LogWriter(LogSink& sink) : sink_(sink) {}
  Result<> Write(std::string_view data) override {
    partial_.append(data);
    size_t start = 0;
    for (size_t nl = partial_.find('\n'); nl != std::string::npos;
         nl = partial_.find('\n', start)) {
      sink_.Line(std::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
    return {};
  }
  Result<> Close() override {
    if (!partial_.empty()) {
      sink_.Line(partial_);
      partial_.clear();
    }
    return {};
  }

 private:
  LogSink& sink_;
  std::string partial_;
};

// What one op run mounts and creates, undone (last first) when it goes away: mounts, views and
// scratch snapshots, temporary directories, and the active snapshot unless committed.
class Workspace {
 public:
  Workspace(snapshot::Snapshotter& snapshotter, Context ctx)
      : snapshotter_(snapshotter), ctx_(std::move(ctx)) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { (void)Release(); }

  // Mounts `mounts` on a fresh directory `dir` (made by the caller).
  Result<> Mount(const std::vector<snapshot::Mount>& mounts, const std::string& dir) {
    dirs_.push_back(dir);
    mounts_.push_back(BERTH_TRY(snapshot::MountAll(mounts, dir)));
    return {};
  }
  void AddKey(const std::string& key) { keys_.push_back(key); }
  void AddDir(const std::string& dir) { dirs_.push_back(dir); }
  // A directory removed with everything in it, last.
  void AddTree(const std::string& dir) { trees_.push_back(dir); }

  // Unmounts everything and removes the temporary keys and directories. Idempotent.
  Result<> Release() {
    Result<> first;
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      Result<> r = it->Unmount();
      if (!r.ok() && first.ok()) {
        first = std::move(r);
      }
    }
    mounts_.clear();
    for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
      (void)snapshotter_.Remove(ctx_, *it);
    }
    keys_.clear();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      (void)rmdir(it->c_str());
    }
    dirs_.clear();
    for (const std::string& tree : trees_) {
      (void)snapshot::RemoveAll(tree);
    }
    trees_.clear();
    return first;
  }

 private:
  snapshot::Snapshotter& snapshotter_;
  Context ctx_;
  std::vector<snapshot::ScopedMount> mounts_;
  std::vector<std::string> keys_;
  std::vector<std::string> dirs_;
  std::vector<std::string> trees_;
};

// Commits active `key` as `name`; AlreadyExists is success (see snapshotter.h).
Result<> CommitAs(const Context& ctx, snapshot::Snapshotter& snapshotter, const std::string& name,
                  const std::string& key) {
  Result<> r = snapshotter.Commit(ctx, name, key);
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kAlreadyExists) {
      (void)snapshotter.Remove(ctx, key);
      return {};
    }
    (void)snapshotter.Remove(ctx, key);
    return r;
  }
  return {};
}

// `path` with leading "/" and "./" removed and without its trailing "/".
std::string Relative(std::string_view path) {
  while (!path.empty() && (path.front() == '/' || path.starts_with("./"))) {
    path.remove_prefix(path.front() == '/' ? 1 : 2);
  }
  while (path.ends_with('/')) {
    path.remove_suffix(1);
  }
  return path == "." ? std::string() : std::string(path);
}

// The directory part of a copy source before its first wildcard component.
std::string FixedPrefix(const std::string& src) {
  std::string rel = Relative(src);
  std::string out;
  size_t pos = 0;
  while (pos < rel.size()) {
    size_t end = rel.find('/', pos);
    if (end == std::string::npos) {
      end = rel.size();
    }
    std::string part = rel.substr(pos, end - pos);
    if (part.find_first_of("*?[\\") != std::string::npos) {
      break;
    }
    out += (out.empty() ? "" : "/") + part;
    pos = end + 1;
  }
  return out;
}

// NotFound when .dockerignore (`excludes`, relative to the context root) hides the copy
// source itself or a directory above it; the rebased patterns of WithExcludes cover only what
// lies below the source. A directory source stays when a `!` pattern re-includes something
// below it.
Result<> CheckNotIgnored(const graph::CopyAction& copy, const std::vector<std::string>& excludes) {
  std::string prefix = FixedPrefix(copy.src);
  if (prefix.empty() || excludes.empty()) {
    return {};
  }
  patternmatcher::PatternMatcher matcher =
      BERTH_TRY_CONTEXT(patternmatcher::PatternMatcher::Create(excludes), ".dockerignore");
  if (!BERTH_TRY(matcher.MatchesOrParentMatches(prefix))) {
    return {};
  }
  for (const patternmatcher::Pattern& p : matcher.patterns()) {
    if (p.exclusion() && (p.text() + "/").starts_with(prefix + "/")) {
      return {};
    }
  }
  return Error::NotFound("\"/" + prefix + "\": not found: excluded by .dockerignore");
}

}  // namespace

Result<std::string> UnpackChain(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                                cache::Index& index, const std::vector<cache::Layer>& layers,
                                const std::string& what, const OpenLayerFn& open) {
  std::string parent;
  std::string chain;
  for (size_t i = 0; i < layers.size(); ++i) {
    const cache::Layer& layer = layers[i];
    chain = i == 0 ? layer.diff_id.ToString()
                   : digest::FromBytes(chain + " " + layer.diff_id.ToString()).ToString();
    std::string name = "chain-" + digest::Digest::Parse(chain).value().hex();
    if (!snapshotter.Stat(ctx, name).ok()) {
      std::string context = "unpacking layer " + layer.digest.ToString() + " of " + what;
      std::unique_ptr<Reader> reader = BERTH_TRY_CONTEXT(open(layer), context);
      BERTH_TRY_CONTEXT(snapshot::ApplyLayerSnapshot(ctx, snapshotter, parent, name, *reader,
                                                     nullptr, &layer.diff_id),
                        context);
    }
    cache::Record record;
    record.snapshot = name;
    record.description = "layer " + std::to_string(i + 1) + " of " + what;
    BERTH_TRY(index.Put(ctx, "", LayerKey(name), record));
    cache::Layer recorded = layer;
    recorded.compression = Compression(layer.media_type);
    BERTH_TRY(index.AddLayer(ctx, "", LayerKey(name), recorded));
    parent = name;
  }
  return parent;
}

Result<std::string> UnpackImage(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                                cache::Index& index, content::Store& content,
                                const LoadedImage& image) {
  const std::vector<digest::Digest>& diff_ids = image.config.rootfs.diff_ids;
  if (diff_ids.size() != image.manifest.layers.size()) {
    return Error::InvalidArgument("image " + image.name + ": " +
                                  std::to_string(image.manifest.layers.size()) + " layers but " +
                                  std::to_string(diff_ids.size()) + " diff ids");
  }
  std::vector<cache::Layer> layers;
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    const oci::Descriptor& layer = image.manifest.layers[i];
    layers.push_back(cache::Layer{.media_type = layer.media_type,
                                  .digest = layer.digest,
                                  .size = layer.size,
                                  .diff_id = diff_ids[i],
                                  .compression = ""});
  }
  return UnpackChain(
      ctx, snapshotter, index, layers, image.name,
      [&](const cache::Layer& layer) -> Result<std::unique_ptr<Reader>> {
        return std::unique_ptr<Reader>(BERTH_TRY(content.OpenReader(ctx, layer.digest)));
      });
}

std::string LayerKey(const std::string& snapshot) {
  return "layer:" + snapshot;
}

std::string CacheMountsDir(const std::string& root, const std::string& project) {
  return root + "/cache-mounts" +
         (project.empty() ? "" : "/" + digest::FromBytes(project).hex().substr(0, 16));
}

std::string GcLockPath(const std::string& lock_dir) {
  return lock_dir + "/gc";
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = [] {
    std::random_device random;
    return (static_cast<uint64_t>(random()) << 32) ^ random();
  }();
  std::string material = std::to_string(getpid()) + "/" + std::to_string(seed) + "/" +
                         std::to_string(counter.fetch_add(1));
  return prefix + digest::FromBytes(material).hex().substr(0, 20);
}

Result<std::string> UpperDir(const snapshot::OverlaySnapshotter& snapshotter,
                             const std::string& name) {
  // Snapshot names made by the engine need no escaping (see EscapeKey in the snapshotter).
  std::string meta = snapshotter.root() + "/meta/" + name + ".json";
  std::string text = BERTH_TRY_CONTEXT(os::ReadFile(meta), "snapshot " + name);
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    return snapshotter.root() + "/snapshots/" + std::to_string(j.at("id").get<uint64_t>()) + "/fs";
  } catch (const std::exception& e) {
    return Error::DataLoss("snapshot " + name + ": bad record: " + e.what());
  }
}

graph::VertexId Runner::IdOf(const graph::Vertex& vertex) const {
  return static_cast<graph::VertexId>(&vertex - env_.graph->vertices().data());
}

std::string Runner::TempDir(const std::string& prefix) const {
  std::string base = env_.root + "/tmp";
  (void)os::MakeDirs(base, 0700);
  std::string templ = base + "/" + prefix + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return "";
  }
  return templ;
}

const LocalContext* Runner::ContextOf(const std::string& ref) const {
  if (!IsContextRef(ref)) {
    return nullptr;
  }
  auto it = env_.contexts.find(ref.substr(kContextPrefix.size()));
  return it == env_.contexts.end() ? nullptr : &it->second;
}

namespace {

// The copy action as run against a local context: its .dockerignore patterns added.
graph::CopyAction WithExcludes(const graph::CopyAction& action,
                               const std::vector<std::string>& excludes) {
  graph::CopyAction out = action;
  std::string prefix = FixedPrefix(action.src);
  for (const std::string& pattern : excludes) {
    bool negate = pattern.starts_with('!');
    std::string body = Relative(negate ? pattern.substr(1) : pattern);
    std::string rebased;
    if (prefix.empty() || body.starts_with("**")) {
      rebased = body;
    } else if (body.starts_with(prefix + "/")) {
      rebased = body.substr(prefix.size() + 1);
    } else {
      continue;  // the pattern cannot match below this source
    }
    out.exclude_patterns.push_back((negate ? "!" : "") + rebased);
  }
  return out;
}

}  // namespace

Result<digest::Digest> ContextChecksums::Get(const Context& ctx, const std::string& dir,
                                             const std::string& selector,
                                             const fileop::ChecksumOptions& options) {
  std::string key = dir + '\n' + selector + '\n' + (options.follow_symlinks ? "f" : "-") +
                    (options.wildcard ? "w" : "-") + (options.ignore_owners ? "o" : "-");
  for (const std::string& p : options.include_patterns) {
    key += "\n+" + p;
  }
  for (const std::string& p : options.exclude_patterns) {
    key += "\n-" + p;
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = done_.find(key); it != done_.end()) {
      return it->second;
    }
  }
  return flight_.Do(key, [&]() -> Result<digest::Digest> {
    digest::Digest sum = BERTH_TRY(fileop::Checksum(ctx, dir, selector, options));
    std::lock_guard lock(mu_);
    done_.emplace(key, sum);
    return sum;
  });
}

Result<digest::Digest> Runner::ContextChecksum(const Context& ctx, const std::string& dir,
                                               const std::string& selector,
                                               const fileop::ChecksumOptions& options) {
  if (env_.checksums == nullptr) {
    return fileop::Checksum(ctx, dir, selector, options);
  }
  return env_.checksums->Get(ctx, dir, selector, options);
}

Result<std::string> Runner::ContentKey(const Context& ctx, const graph::Vertex& vertex,
                                       const std::vector<solver::Input>& inputs) {
  auto context_of = [&](std::optional<int32_t> input) -> const LocalContext* {
    if (!input || *input < 0 || static_cast<size_t>(*input) >= inputs.size()) {
      return nullptr;
    }
    return ContextOf(inputs[static_cast<size_t>(*input)].ref());
  };
  std::string key;
  if (const auto* src = std::get_if<graph::SourceOp>(&vertex.op.op)) {
    if (IsRemoteSource(src->identifier)) {
      return RemoteKey(ctx, vertex, *src);
    }
    if (src->identifier.starts_with(kImageScheme) &&
        src->identifier.find('@') == std::string::npos) {
      LoadedImage image = BERTH_TRY(
          env_.resolver->Load(src->identifier.substr(kImageScheme.size()), vertex.op.platform));
      key = image.manifest_desc.digest.ToString();
    }
  } else if (const auto* file = std::get_if<graph::FileOp>(&vertex.op.op)) {
    for (size_t i = 0; i < file->actions.size(); ++i) {
      const auto* copy = std::get_if<graph::CopyAction>(&file->actions[i]);
      const LocalContext* local = copy == nullptr ? nullptr : context_of(copy->src_input);
      if (local == nullptr) {
        continue;
      }
      if (Result<> visible = CheckNotIgnored(*copy, local->excludes); !visible.ok()) {
        return std::move(visible).error().AddContext(StepName(vertex));
      }
      graph::CopyAction rebased = WithExcludes(*copy, local->excludes);
      fileop::ChecksumOptions options{.follow_symlinks = copy->follow_symlinks,
                                      .wildcard = copy->allow_wildcard,
                                      .include_patterns = rebased.include_patterns,
                                      .exclude_patterns = rebased.exclude_patterns,
                                      .ignore_owners = true};
      Result<digest::Digest> sum = ContextChecksum(ctx, local->dir, copy->src, options);
      if (!sum.ok()) {
        return std::move(sum).error().AddContext(StepName(vertex));
      }
      key += std::to_string(i) + "=" + sum->ToString() + ";";
    }
  } else if (const auto* exec = std::get_if<graph::ExecOp>(&vertex.op.op)) {
    for (size_t i = 0; i < exec->mounts.size(); ++i) {
      const graph::Mount& m = exec->mounts[i];
      const LocalContext* local = m.type == graph::MountType::kBind ? context_of(m.input) : nullptr;
      if (local == nullptr) {
        continue;
      }
      graph::CopyAction probe;
      probe.src = m.selector;
      graph::CopyAction rebased = WithExcludes(probe, local->excludes);
      Result<digest::Digest> sum = ContextChecksum(
          ctx, local->dir, m.selector.empty() ? "." : m.selector,
          {.wildcard = false, .exclude_patterns = rebased.exclude_patterns, .ignore_owners = true});
      if (!sum.ok()) {
        return std::move(sum).error().AddContext(StepName(vertex));
      }
      key += "mount" + std::to_string(i) + "=" + sum->ToString() + ";";
    }
  }
  return key;
}

Result<std::vector<std::string>> Runner::Run(const Context& ctx, const graph::Vertex& vertex,
                                             const std::vector<solver::Input>& inputs) {
  std::string out;
  if (const auto* src = std::get_if<graph::SourceOp>(&vertex.op.op)) {
    if (src->identifier.starts_with("local://")) {
      std::string name = src->identifier.substr(std::string_view("local://").size());
      if (env_.contexts.count(name) == 0) {
        return Error::InvalidArgument(StepName(vertex) + ": no local context named " + name);
      }
      out = std::string(kContextPrefix) + name;
    } else if (src->identifier.starts_with(kImageScheme)) {
      out = BERTH_TRY(RunImage(ctx, vertex, *src));
    } else if (IsRemoteSource(src->identifier)) {
      out = BERTH_TRY(RunRemote(ctx, vertex, *src));
    } else {
      return Error::Unimplemented(StepName(vertex) + ": source " + src->identifier +
                                  " is not supported yet");
    }
  } else if (const auto* exec = std::get_if<graph::ExecOp>(&vertex.op.op)) {
    out = BERTH_TRY(RunExec(ctx, vertex, *exec, inputs));
  } else if (const auto* file = std::get_if<graph::FileOp>(&vertex.op.op)) {
    out = BERTH_TRY(RunFile(ctx, vertex, *file, inputs));
  } else {
    out = BERTH_TRY_CONTEXT(RunMerge(ctx, inputs), StepName(vertex));
  }
  NoteStep(vertex, out);
  return std::vector<std::string>{out};
}

void Runner::NoteStep(const graph::Vertex& vertex, const std::string& out) {
  if (out.empty() || IsContextRef(out)) {
    return;
  }
  StepNote note{.description = vertex.metadata.description, .owner = this};
  if (!vertex.metadata.locations.empty()) {
    const graph::Location& l = vertex.metadata.locations.front();
    note.location = l.file + ":" + std::to_string(l.start_line);
  }
  if (!vertex.op.platform.os.empty()) {
    note.platform = vertex.op.platform.ToString();
  }
  {
    std::lock_guard lock(notes_mu_);
    noted_.push_back(out);
  }
  std::lock_guard lock(NotesMutex());
  Notes()[out] = std::move(note);
}

Result<std::string> Runner::RunImage(const Context& ctx, const graph::Vertex& vertex,
                                     const graph::SourceOp& op) {
  LoadedImage image = BERTH_TRY_CONTEXT(
      env_.resolver->Load(op.identifier.substr(kImageScheme.size()), vertex.op.platform),
      StepName(vertex));
  return BERTH_TRY_CONTEXT(UnpackImage(ctx, *env_.snapshotter, *env_.index, *env_.content, image),
                           StepName(vertex));
}

Result<std::string> Runner::RunExec(const Context& ctx, const graph::Vertex& vertex,
                                    const graph::ExecOp& op,
                                    const std::vector<solver::Input>& inputs) {
  auto input_ref = [&](std::optional<int32_t> input) -> std::string {
    if (!input || *input < 0 || static_cast<size_t>(*input) >= inputs.size()) {
      return "";
    }
    return inputs[static_cast<size_t>(*input)].ref();
  };
  if (op.mounts.empty()) {
    return Error::InvalidArgument(StepName(vertex) + ": no root mount");
  }
  std::string parent = input_ref(op.mounts[0].input);
  if (IsContextRef(parent)) {
    return Error::Unimplemented(StepName(vertex) + ": running on the build context");
  }
  Workspace ws(*env_.snapshotter, ctx);
  std::string key = UniqueName("active-");
  std::vector<snapshot::Mount> root_mounts = BERTH_TRY(env_.snapshotter->Prepare(ctx, key, parent));
  bool committed = false;
  ScopeExit remove_active([&] {
    if (!committed) {
      (void)env_.snapshotter->Remove(ctx, key);
    }
  });
  std::string rootfs = TempDir("rootfs-");
  if (rootfs.empty()) {
    return Error::FromErrno("mkdtemp", errno);
  }
  BERTH_TRY(ws.Mount(root_mounts, rootfs));

  executor::ProcessSpec process;
  process.args = op.args;
  process.env = op.env;
  process.cwd = op.cwd.empty() ? "/" : op.cwd;
  process.user = op.user;
  process.network =
      op.network == graph::NetworkMode::kNone ? executor::Network::kNone : executor::Network::kHost;
  process.extra_hosts = op.extra_hosts;
  process.rlimits = env_.rlimits;
  if (env_.shm_size != 0) {
    process.shm_size = env_.shm_size;
  }
  for (size_t i = 1; i < op.mounts.size(); ++i) {
    const graph::Mount& m = op.mounts[i];
    if (m.output > 0) {
      return Error::Unimplemented(StepName(vertex) +
                                  ": writable mount outputs are not supported "
                                  "yet");
    }
    switch (m.type) {
      case graph::MountType::kBind: {
        std::string ref = input_ref(m.input);
        std::string dir;
        if (const LocalContext* local = ContextOf(ref); local != nullptr) {
          dir = local->dir;
          if (!m.readonly) {
            // A writable bind of a local context must never write to it (the user's files, or
            // berthd's shared context store): an overlay takes the writes, discarded after.
            std::string scratch = TempDir("rwbind-");
            if (scratch.empty()) {
              return Error::FromErrno("mkdtemp", errno);
            }
            ws.AddTree(scratch);
            for (const char* sub : {"/upper", "/work", "/merged"}) {
              BERTH_TRY(os::MakeDirs(scratch + sub, 0755));
            }
            BERTH_TRY(ws.Mount(
                {snapshot::Mount{"overlay",
                                 "overlay",
                                 {"lowerdir=" + local->dir, "upperdir=" + scratch + "/upper",
                                  "workdir=" + scratch + "/work"}}},
                scratch + "/merged"));
            dir = scratch + "/merged";
          }
        } else {
          std::string view = UniqueName("view-");
          std::vector<snapshot::Mount> mounts =
              m.readonly ? BERTH_TRY(env_.snapshotter->View(ctx, view, ref))
                         : BERTH_TRY(env_.snapshotter->Prepare(ctx, view, ref));
          ws.AddKey(view);
          dir = TempDir("bind-");
          if (dir.empty()) {
            return Error::FromErrno("mkdtemp", errno);
          }
          BERTH_TRY(ws.Mount(mounts, dir));
        }
        std::string source = dir;
        if (!Relative(m.selector).empty()) {
          source += "/" + Relative(m.selector);
          // A selector must not lead out of its root through a symlink.
          char* real = realpath(source.c_str(), nullptr);
          std::string resolved = real != nullptr ? real : "";
          free(real);  // NOLINT(cppcoreguidelines-no-malloc)
          char* real_dir = realpath(dir.c_str(), nullptr);
          std::string resolved_dir = real_dir != nullptr ? real_dir : dir;
          free(real_dir);  // NOLINT(cppcoreguidelines-no-malloc)
          if (resolved.empty() ||
              !(resolved == resolved_dir || resolved.starts_with(resolved_dir + "/"))) {
            return Error::InvalidArgument(StepName(vertex) + ": mount source " + m.selector +
                                          " not found in its root");
          }
          source = resolved;
        }
        process.mounts.push_back({.type = executor::MountSpec::Type::kBind,
                                  .source = source,
                                  .dest = m.dest,
                                  .readonly = m.readonly});
        break;
      }
      case graph::MountType::kCache: {
        std::string id = m.cache_id.empty() ? m.dest : m.cache_id;
        // Per project: one project's cache mounts are never another's.
        std::string dir = CacheMountsDir(env_.root, env_.project) + "/" +
                          digest::FromBytes(id).hex().substr(0, 32);
        if (!os::Exists(dir)) {
          BERTH_TRY(os::MakeDirs(dir, m.mode_set ? static_cast<int>(m.mode) : 0755));
          if (lchown(dir.c_str(), m.uid, m.gid) != 0) {
            return Error::FromErrno("chown " + dir, errno);
          }
        }
        process.mounts.push_back({.type = executor::MountSpec::Type::kBind,
                                  .source = dir,
                                  .dest = m.dest,
                                  .readonly = m.readonly});
        break;
      }
      case graph::MountType::kTmpfs:
        process.mounts.push_back(
            {.type = executor::MountSpec::Type::kTmpfs, .dest = m.dest, .size = m.size});
        break;
      case graph::MountType::kSecret: {
        auto it = env_.secrets.find(m.secret_id);
        if (it == env_.secrets.end()) {
          if (m.optional) {
            break;
          }
          return Error::InvalidArgument(
              StepName(vertex) + ": secret " + m.secret_id +
              " is required but was not provided (--secret id=" + m.secret_id + ",src=FILE)");
        }
        if (!m.secret_env.empty()) {
          process.env.push_back(m.secret_env + "=" + it->second);
        }
        if (!m.dest.empty()) {
          process.mounts.push_back({.type = executor::MountSpec::Type::kFile,
                                    .dest = m.dest,
                                    .readonly = true,
                                    .data = it->second,
                                    .mode = m.mode_set ? m.mode : 0400,
                                    .uid = m.uid,
                                    .gid = m.gid});
        }
        break;
      }
      case graph::MountType::kSsh: {
        auto it = env_.ssh.find(m.secret_id);
        if (it == env_.ssh.end()) {
          if (m.optional) {
            break;
          }
          return Error::InvalidArgument(StepName(vertex) + ": ssh agent " + m.secret_id +
                                        " is required but was not forwarded (--ssh " + m.secret_id +
                                        "[=SOCKET])");
        }
        process.mounts.push_back({.type = executor::MountSpec::Type::kBind,
                                  .source = it->second,
                                  .dest = m.dest,
                                  .readonly = false});
        process.env.push_back("SSH_AUTH_SOCK=" + m.dest);
        break;
      }
    }
  }

  LogSink sink(env_.progress, IdOf(vertex));
  LogWriter out(sink);
  LogWriter err(sink);
  Result<int> exit = env_.executor->Run(ctx, {.rootfs = rootfs, .process = process}, out, err);
  (void)out.Close();
  (void)err.Close();
  BERTH_TRY(ws.Release());
  if (!exit.ok()) {
    return std::move(exit).error().AddContext(StepName(vertex));
  }
  if (*exit != 0) {
    std::string cmd;
    for (const std::string& a : op.args) {
      cmd += (cmd.empty() ? "" : " ") + a;
    }
    return Error::Internal(StepName(vertex) + ": process \"" + cmd +
                           "\" did not complete successfully: exit code: " + std::to_string(*exit) +
                           sink.Tail());
  }
  std::string name = UniqueName("step-");
  committed = true;
  BERTH_TRY(CommitAs(ctx, *env_.snapshotter, name, key));
  return name;
}

Result<std::string> Runner::RunFile(const Context& ctx, const graph::Vertex& vertex,
                                    const graph::FileOp& op,
                                    const std::vector<solver::Input>& inputs) {
  std::string base;
  if (op.base_input >= 0 && static_cast<size_t>(op.base_input) < inputs.size()) {
    base = inputs[static_cast<size_t>(op.base_input)].ref();
  }
  if (IsContextRef(base)) {
    return Error::Unimplemented(StepName(vertex) + ": file actions on the build context");
  }
  Workspace ws(*env_.snapshotter, ctx);
  std::string key = UniqueName("active-");
  std::vector<snapshot::Mount> mounts = BERTH_TRY(env_.snapshotter->Prepare(ctx, key, base));
  bool committed = false;
  ScopeExit remove_active([&] {
    if (!committed) {
      (void)env_.snapshotter->Remove(ctx, key);
    }
  });
  std::string dest = TempDir("file-");
  if (dest.empty()) {
    return Error::FromErrno("mkdtemp", errno);
  }
  BERTH_TRY(ws.Mount(mounts, dest));

  fileop::FileOpEnv env;
  env.dest_root = dest;
  env.source_date_epoch = env_.source_date_epoch;
  graph::FileOp run = op;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string ref = inputs[i].ref();
    if (ref.empty()) {
      env.sources.push_back({});
    } else if (const LocalContext* local = ContextOf(ref); local != nullptr) {
      env.sources.push_back({.path = local->dir, .reset_owners = true});
      for (graph::FileAction& action : run.actions) {
        if (auto* copy = std::get_if<graph::CopyAction>(&action);
            copy != nullptr && copy->src_input == static_cast<int32_t>(i)) {
          *copy = WithExcludes(*copy, local->excludes);
        }
      }
    } else {
      std::string view = UniqueName("view-");
      std::vector<snapshot::Mount> view_mounts = BERTH_TRY(env_.snapshotter->View(ctx, view, ref));
      ws.AddKey(view);
      std::string dir = TempDir("src-");
      if (dir.empty()) {
        return Error::FromErrno("mkdtemp", errno);
      }
      BERTH_TRY(ws.Mount(view_mounts, dir));
      env.sources.push_back({.path = dir});
    }
  }
  Result<> applied = fileop::ApplyFileOp(ctx, run, env);
  BERTH_TRY(ws.Release());
  if (!applied.ok()) {
    return std::move(applied).error().AddContext(StepName(vertex));
  }
  std::string name = UniqueName("step-");
  committed = true;
  BERTH_TRY(CommitAs(ctx, *env_.snapshotter, name, key));
  return name;
}

Result<std::string> Runner::RunMerge(const Context& ctx, const std::vector<solver::Input>& inputs) {
  std::string current = inputs.empty() ? "" : inputs[0].ref();
  if (IsContextRef(current)) {
    return Error::Unimplemented("merging the build context");
  }
  for (size_t j = 1; j < inputs.size(); ++j) {
    std::string top = inputs[j].ref();
    if (IsContextRef(top)) {
      return Error::Unimplemented("merging the build context");
    }
    std::vector<std::string> chain;
    for (std::string s = top; !s.empty();) {
      chain.push_back(s);
      snapshot::Info info = BERTH_TRY(env_.snapshotter->Stat(ctx, s));
      s = info.parent;
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      std::string upper = BERTH_TRY(UpperDir(*env_.snapshotter, *it));
      std::string dir = TempDir("merge-");
      if (dir.empty()) {
        return Error::FromErrno("mkdtemp", errno);
      }
      std::string tar_path = dir + "/layer.tar";
      struct Cleanup {
        std::string dir, tar;
        ~Cleanup() {
          (void)unlink(tar.c_str());
          (void)rmdir(dir.c_str());
        }
      } cleanup{dir, tar_path};
      UniqueFd fd = BERTH_TRY(os::Open(tar_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      FdWriter writer(fd.get());
      archive::ExportOptions options;
      options.tar.layout = archive::SourceLayout::kOverlayUpper;
      options.compression = compress::Format::kNone;
      BERTH_TRY(archive::ExportLayer(ctx, upper, writer, options));
      if (lseek(fd.get(), 0, SEEK_SET) != 0) {
        return Error::FromErrno("lseek " + tar_path, errno);
      }
      FdReader reader(fd.get());
      std::string name = UniqueName("merge-");
      current =
          BERTH_TRY(snapshot::ApplyLayerSnapshot(ctx, *env_.snapshotter, current, name, reader));
    }
  }
  return current;
}

IndexCache::IndexCache(cache::Index& index, snapshot::Snapshotter& snapshotter,
                       std::string lock_dir, std::string project)
    : index_(index),
      snapshotter_(snapshotter),
      lock_dir_(std::move(lock_dir)),
      project_(std::move(project)) {
  // Shared with every other build; waits only while a GC runs (it holds the lock briefly).
  std::string path = GcLockPath(lock_dir_);
  if (Result<> made = os::MakeDirs(lock_dir_, 0700); !made.ok()) {
    gc_lock_error_ = std::move(made).error();
    return;
  }
  Result<UniqueFd> fd = os::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!fd.ok()) {
    gc_lock_error_ = std::move(fd).error();
    return;
  }
  while (::flock(fd->get(), LOCK_SH) != 0) {
    if (errno != EINTR) {
      gc_lock_error_ = Error::FromErrno("flock " + path, errno);
      return;
    }
  }
  gc_lock_ = std::move(fd).value();
}

IndexCache::~IndexCache() {
  if (gc_lock_.get() >= 0) {
    (void)::flock(gc_lock_.get(), LOCK_UN);
  }
}

Result<> IndexCache::Held() const {
  if (gc_lock_error_) {
    return Error(*gc_lock_error_).AddContext("taking the cache GC lock");
  }
  return {};
}

Result<std::vector<std::string>> IndexCache::Lookup(const Context& ctx, const std::string& key) {
  BERTH_TRY(Held());
  Result<cache::Record> found = index_.Lookup(ctx, project_, key);
  if (!found.ok() && found.error().code() == ErrorCode::kNotFound && fallback_) {
    std::optional<cache::Record> fetched = BERTH_TRY(fallback_(ctx, key));
    if (fetched) {
      found = index_.Put(ctx, project_, key, *fetched);
    }
  }
  cache::Record record = BERTH_TRY(std::move(found));
  if (!snapshotter_.Stat(ctx, record.snapshot).ok()) {
    // A record must not outlive its snapshot: drop it, so that the result is made and stored
    // afresh instead of Put handing back the missing snapshot.
    if (Result<cache::Removal> removed = index_.Delete(ctx, project_, key); removed.ok()) {
      (void)index_.Forget(ctx, project_, removed->keys);
    }
    return Error::NotFound("cache record " + key + ": snapshot " + record.snapshot + " is gone");
  }
  NoteSize(key, record.size);
  return std::vector<std::string>{record.snapshot};
}

void IndexCache::NoteSize(const std::string& key, int64_t size) {
  std::lock_guard lock(sizes_mu_);
  sizes_[key] = size;
}

int64_t IndexCache::LayerSize(const std::string& key) const {
  std::lock_guard lock(sizes_mu_);
  auto it = sizes_.find(key);
  return it == sizes_.end() ? 0 : it->second;
}

Result<std::vector<std::string>> IndexCache::Replace(const Context& ctx, const std::string& key,
                                                     const std::vector<std::string>& outputs) {
  BERTH_TRY(Held());
  if (outputs.size() == 1 && !outputs[0].empty() && !IsContextRef(outputs[0])) {
    Result<cache::Removal> removed = index_.Delete(ctx, project_, key);
    if (!removed.ok() && removed.error().code() != ErrorCode::kNotFound) {
      return std::move(removed).error();
    }
  }
  return Put(ctx, key, outputs);
}

Result<std::vector<std::string>> IndexCache::Put(const Context& ctx, const std::string& key,
                                                 const std::vector<std::string>& outputs) {
  if (outputs.size() != 1 || outputs[0].empty() || IsContextRef(outputs[0])) {
    return outputs;
  }
  BERTH_TRY(Held());
  cache::Record record;
  record.snapshot = outputs[0];
  // A base image's chain is shared by every project and kept by the image's own records:
  // dropping this entry frees nothing, so it weighs nothing against a project's cache cap.
  if (!outputs[0].starts_with("chain-")) {
    if (Result<snapshot::DiskUsage> usage = snapshotter_.Usage(ctx, outputs[0]); usage.ok()) {
      record.size = usage->bytes;
    }
  }
  {
    std::lock_guard lock(NotesMutex());
    auto it = Notes().find(outputs[0]);
    if (it != Notes().end()) {
      record.description = it->second.description;
      record.location = it->second.location;
      record.platform = it->second.platform;
    }
  }
  cache::Record stored = BERTH_TRY(index_.Put(ctx, project_, key, record));
  NoteSize(key, stored.size);
  return std::vector<std::string>{stored.snapshot};
}

namespace {

class FileKeyLock final : public solver::ResultCache::KeyLock {
 public:
  explicit FileKeyLock(UniqueFd fd) : fd_(std::move(fd)) {}
  ~FileKeyLock() override { (void)::flock(fd_.get(), LOCK_UN); }

 private:
  UniqueFd fd_;
};

}  // namespace

Result<std::unique_ptr<solver::ResultCache::KeyLock>> IndexCache::LockKey(const Context& ctx,
                                                                          const std::string& key) {
  BERTH_TRY(Held());
  BERTH_TRY(os::MakeDirs(lock_dir_, 0700));
  std::string hex = digest::FromBytes(key).hex();
  int stripe = static_cast<int>(std::stoul(hex.substr(0, 6), nullptr, 16) % kLockStripes);
  std::string path = lock_dir_ + "/" + std::to_string(stripe);
  UniqueFd fd = BERTH_TRY(os::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Error::FromErrno("flock " + path, errno);
    }
    BERTH_TRY(ctx.Check());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::unique_ptr<solver::ResultCache::KeyLock>(new FileKeyLock(std::move(fd)));
}

Runner::~Runner() {
  for (const auto& [id, dir] : fetched_) {
    (void)snapshot::RemoveAll(dir);
  }
  std::lock_guard lock(NotesMutex());
  for (const std::string& name : noted_) {
    auto it = Notes().find(name);
    if (it != Notes().end() && it->second.owner == this) {
      Notes().erase(it);
    }
  }
}

Result<std::string> Runner::RemoteKey(const Context& ctx, const graph::Vertex& vertex,
                                      const graph::SourceOp& op) {
  graph::VertexId id = IdOf(vertex);
  if (op.identifier.starts_with(kGitScheme)) {
    std::string remote = op.identifier.substr(kGitScheme.size());
    std::string commit =
        BERTH_TRY_CONTEXT(GitResolve(ctx, remote, Attr(op, "ref")), StepName(vertex));
    std::string checksum = Attr(op, "checksum");
    if (!checksum.empty() && !commit.starts_with(checksum)) {
      return Error::InvalidArgument(StepName(vertex) + ": expected checksum " + checksum +
                                    " but the ref resolves to commit " + commit);
    }
    std::lock_guard lock(remote_mu_);
    resolved_[id] = commit;
    return "git " + commit;
  }
  std::string dir = TempDir("http-");
  if (dir.empty()) {
    return Error::FromErrno("mkdtemp", errno);
  }
  {
    std::lock_guard lock(remote_mu_);
    fetched_[id] = dir;
  }
  std::string filename = Attr(op, "filename");
  if (filename.empty() || filename.find('/') != std::string::npos || filename == "." ||
      filename == "..") {
    filename = "download";
  }
  std::string path = dir + "/" + filename;
  Download d = BERTH_TRY_CONTEXT(DownloadUrl(ctx, op.identifier, path, Attr(op, "checksum")),
                                 StepName(vertex));
  if (d.mtime > 0) {
    struct timespec times[2] = {{d.mtime, 0}, {d.mtime, 0}};
    (void)utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  return "http " + d.digest.ToString() + " " + std::to_string(d.mtime);
}

Result<std::string> Runner::RunRemote(const Context& ctx, const graph::Vertex& vertex,
                                      const graph::SourceOp& op) {
  graph::VertexId id = IdOf(vertex);
  if (op.identifier.starts_with(kGitScheme)) {
    std::string commit;
    {
      std::lock_guard lock(remote_mu_);
      commit = resolved_[id];
    }
    if (commit.empty()) {
      return Error::Internal(StepName(vertex) + ": the git ref was not resolved");
    }
    std::string dir = TempDir("git-");
    if (dir.empty()) {
      return Error::FromErrno("mkdtemp", errno);
    }
    ScopeExit remove([&] { (void)snapshot::RemoveAll(dir); });
    std::string submodules = Attr(op, "submodules");
    BERTH_TRY_CONTEXT(GitCheckout(ctx, op.identifier.substr(kGitScheme.size()), commit, dir,
                                  {.keep_git_dir = Attr(op, "keepgitdir") == "true",
                                   .submodules = submodules != "false",
                                   .subdir = Attr(op, "subdir")}),
                      StepName(vertex));
    return SnapshotOfDir(ctx, vertex, dir);
  }
  std::string dir;
  {
    std::lock_guard lock(remote_mu_);
    auto it = fetched_.find(id);
    if (it != fetched_.end()) {
      dir = it->second;
    }
  }
  if (dir.empty()) {
    return Error::Internal(StepName(vertex) + ": the URL was not fetched");
  }
  return SnapshotOfDir(ctx, vertex, dir);
}

Result<std::string> Runner::SnapshotOfDir(const Context& ctx, const graph::Vertex& vertex,
                                          const std::string& dir) {
  graph::FileOp op;
  op.base_input = -1;
  op.actions.push_back(graph::CopyAction{
      .src_input = 0, .src = "/", .dest = "/", .follow_symlinks = false, .allow_wildcard = false});
  Workspace ws(*env_.snapshotter, ctx);
  std::string key = UniqueName("active-");
  std::vector<snapshot::Mount> mounts = BERTH_TRY(env_.snapshotter->Prepare(ctx, key, ""));
  bool committed = false;
  ScopeExit remove_active([&] {
    if (!committed) {
      (void)env_.snapshotter->Remove(ctx, key);
    }
  });
  std::string dest = TempDir("remote-");
  if (dest.empty()) {
    return Error::FromErrno("mkdtemp", errno);
  }
  BERTH_TRY(ws.Mount(mounts, dest));
  fileop::FileOpEnv env;
  env.dest_root = dest;
  env.sources.push_back({.path = dir});
  Result<> applied = fileop::ApplyFileOp(ctx, op, env);
  BERTH_TRY(ws.Release());
  if (!applied.ok()) {
    return std::move(applied).error().AddContext(StepName(vertex));
  }
  std::string name = UniqueName("step-");
  committed = true;
  BERTH_TRY(CommitAs(ctx, *env_.snapshotter, name, key));
  return name;
}

}  // namespace berth::engine
