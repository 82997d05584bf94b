#include "cmd/berth/build_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/strings.h"
#include "engine/output.h"
#include "engine/sources.h"
#include "gitref/gitref.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"
#include "platform/platform.h"
#include "snapshot/fs_util.h"

namespace berth::cmd {

Result<std::pair<std::string, std::string>> ParseSecret(const std::string& spec) {
  std::string id, src, env, type;
  for (const std::string& field : BERTH_TRY_CONTEXT(engine::SplitCsv(spec), "--secret " + spec)) {
    bool found = false;
    auto [key, value] = SplitOnce(field, '=', &found);
    key = ToLower(Trim(key));
    if (!found) {
      return Error::InvalidArgument("--secret " + spec + ": field \"" + field +
                                    "\" is not KEY=VALUE");
    }
    if (key == "id") {
      id = value;
    } else if (key == "src" || key == "source") {
      src = value;
    } else if (key == "env") {
      env = value;
    } else if (key == "type") {
      if (value != "file" && value != "env") {
        return Error::InvalidArgument("--secret " + spec + ": type must be file or env");
      }
      type = value;
    } else {
      return Error::InvalidArgument("--secret " + spec + ": unknown key \"" + key + "\"");
    }
  }
  if (type == "env" && env.empty()) {
    env = src.empty() ? id : src;
    src.clear();
  }
  if (id.empty()) {
    id = !env.empty() ? env : src.substr(src.rfind('/') + 1);
  }
  if (id.empty()) {
    return Error::InvalidArgument("--secret " + spec + ": id= is required");
  }
  if (src.empty() && env.empty()) {
    env = id;
  }
  if (!src.empty()) {
    std::string value = BERTH_TRY_CONTEXT(os::ReadFile(src), "--secret id=" + id);
    return std::make_pair(id, value);
  }
  const char* value = std::getenv(env.c_str());
  if (value == nullptr) {
    return Error::InvalidArgument("--secret id=" + id + ": environment variable " + env +
                                  " is not set");
  }
  return std::make_pair(id, std::string(value));
}

Result<std::pair<std::string, std::string>> ParseSsh(const std::string& spec) {
  bool found = false;
  auto [id, path] = SplitOnce(spec, '=', &found);
  if (id.empty()) {
    return Error::InvalidArgument("--ssh " + spec + ": empty id");
  }
  if (!found || path.empty()) {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    if (sock == nullptr || *sock == '\0') {
      return Error::InvalidArgument("--ssh " + spec + ": SSH_AUTH_SOCK is not set");
    }
    path = sock;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error::FromErrno("--ssh " + spec + ": " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error::Unimplemented("--ssh " + spec + ": " + path +
                                " is not an agent socket; berth forwards ssh-agent sockets "
                                "only (run ssh-agent and ssh-add the key)");
  }
  return std::make_pair(id, path);
}

Result<engine::Ulimit> ParseUlimit(const std::string& spec) {
  bool found = false;
  auto [name, limits] = SplitOnce(spec, '=', &found);
  if (!found || name.empty() || limits.empty()) {
    return Error::InvalidArgument("--ulimit " + spec + ": want NAME=SOFT[:HARD]");
  }
  auto number = [&](const std::string& text) -> Result<int64_t> {
    if (text == "unlimited" || text == "-1") {
      return -1;
    }
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v < 0) {
      return Error::InvalidArgument("--ulimit " + spec + ": bad limit \"" + text + "\"");
    }
    return static_cast<int64_t>(v);
  };
  bool has_hard = false;
  auto [soft_text, hard_text] = SplitOnce(limits, ':', &has_hard);
  engine::Ulimit u{.name = name};
  u.soft = BERTH_TRY(number(soft_text));
  u.hard = has_hard ? BERTH_TRY(number(hard_text)) : u.soft;
  auto as_unsigned = [](int64_t v) {
    return static_cast<uint64_t>(v);
  };  // -1 = infinity
  if (as_unsigned(u.soft) > as_unsigned(u.hard)) {
    return Error::InvalidArgument("--ulimit " + spec + ": soft limit exceeds the hard limit");
  }
  return u;
}

Result<std::map<std::string, std::string>> ParseAnnotations(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const std::string& a : specs) {
    bool found = false;
    auto [key, value] = SplitOnce(a, '=', &found);
    if (!found || key.empty()) {
      return Error::InvalidArgument("--annotation " + a + ": want KEY=VALUE");
    }
    if (size_t colon = key.find(':'); colon != std::string::npos) {
      std::string type = key.substr(0, colon);
      std::string base = type.substr(0, type.find('['));
      if (base != "manifest") {
        return Error::Unimplemented("--annotation " + a +
                                    ": only manifest annotations exist in a "
                                    "single-platform build");
      }
      key = key.substr(colon + 1);
    }
    out[key] = value;
  }
  return out;
}

Result<std::vector<engine::Output>> ParseOutputs(const std::vector<std::string>& specs, bool push,
                                                 bool load) {
  std::vector<engine::Output> outputs;
  for (const std::string& o : specs) {
    engine::Output out = BERTH_TRY(engine::ParseOutput(o));
    if ((out.type == engine::OutputType::kOci || out.type == engine::OutputType::kTar) &&
        out.dest.empty()) {
      if (isatty(STDOUT_FILENO)) {
        return Error::InvalidArgument(
            "--output " + o + ": dest= is required (refusing to write a tar to a terminal)");
      }
      out.dest = "-";
    }
    outputs.push_back(std::move(out));
  }
  if (push) {
    bool merged = false;
    for (engine::Output& out : outputs) {
      if (out.type == engine::OutputType::kImage) {
        out.push = merged = true;
      }
    }
    if (!merged) {
      outputs.push_back({.type = engine::OutputType::kImage, .push = true});
    }
  }
  if (load) {
    outputs.push_back({.type = engine::OutputType::kImage});
  }
  int to_stdout = 0;
  for (const engine::Output& out : outputs) {
    to_stdout += out.dest == "-" ? 1 : 0;
  }
  if (to_stdout > 1) {
    return Error::InvalidArgument("--output: only one output can write to stdout (dest=-)");
  }
  return outputs;
}

Result<std::vector<std::string>> ReadIgnorePatterns(const std::string& dockerfile,
                                                    const std::string& context) {
  std::string path = os::Exists(dockerfile + ".dockerignore") ? dockerfile + ".dockerignore"
                                                              : context + "/.dockerignore";
  if (!os::Exists(path)) {
    return std::vector<std::string>{};
  }
  std::string text = BERTH_TRY(os::ReadFile(path));
  return BERTH_TRY_CONTEXT(patternmatcher::ReadIgnoreFile(text), "reading " + path);
}

namespace {

// buildx's metadata of one build: containerimage.* and image.name for image outputs.
nlohmann::json MetadataObject(const engine::BuildResult& result) {
  nlohmann::json j = nlohmann::json::object();
  if (!result.manifest_digest.empty()) {
    j["containerimage.config.digest"] = result.config_digest;
    j["containerimage.digest"] = result.manifest_digest;
    nlohmann::json desc = {{"mediaType", result.manifest_media_type},
                           {"digest", result.manifest_digest},
                           {"size", result.manifest_size}};
    if (!result.platform.empty()) {
      Result<platform::Platform> p = platform::ParsePlatform(result.platform);
      if (p.ok()) {
        desc["platform"] = {{"architecture", p->architecture}, {"os", p->os}};
        if (!p->variant.empty()) {
          desc["platform"]["variant"] = p->variant;
        }
      }
    }
    j["containerimage.descriptor"] = desc;
  }
  std::vector<std::string> names = result.tags;
  for (const std::string& pushed : result.pushed) {
    if (std::find(names.begin(), names.end(), pushed) == names.end()) {
      names.push_back(pushed);
    }
  }
  if (!names.empty()) {
    j["image.name"] = StrJoin(names, ",");
  }
  return j;
}

nlohmann::json WithRemote(nlohmann::json j, const RemoteBuildInfo* remote) {
  if (remote != nullptr) {
    j["berth.build"] = {
        {"buildID", remote->build_id}, {"projectID", remote->project_id}, {"saved", remote->saved}};
  }
  return j;
}

}  // namespace

Result<bool> IsGitContext(const std::string& context) {
  if (os::Exists(context)) {
    return false;
  }
  std::optional<gitref::GitRef> git =
      BERTH_TRY_CONTEXT(gitref::ParseGitRef(context), "context " + context);
  return git.has_value();
}

Result<std::string> CheckoutGitContext(const std::string& root, const std::string& context) {
  std::optional<gitref::GitRef> git =
      BERTH_TRY_CONTEXT(gitref::ParseGitRef(context), "context " + context);
  if (!git) {
    return Error::InvalidArgument("context " + context + ": not a git reference");
  }
  BERTH_TRY(os::MakeDirs(root + "/tmp", 0700));
  std::string dir = root + "/tmp/context-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return Error::FromErrno("mkdtemp", errno);
  }
  Context ctx = Context::Background();
  Result<> checked_out = [&]() -> Result<> {
    std::string commit =
        BERTH_TRY_CONTEXT(engine::GitResolve(ctx, git->remote, git->ref), "context " + context);
    BERTH_TRY_CONTEXT(engine::GitCheckout(ctx, git->remote, commit, dir,
                                          {.keep_git_dir = git->keep_git_dir.value_or(false),
                                           .submodules = git->submodules.value_or(true),
                                           .subdir = git->subdir}),
                      "context " + context);
    return {};
  }();
  if (!checked_out.ok()) {
    (void)snapshot::RemoveAll(dir);
    return std::move(checked_out).error();
  }
  return dir;
}

std::string MetadataJson(const engine::BuildResult& result, const RemoteBuildInfo* remote) {
  return WithRemote(MetadataObject(result), remote).dump(2) + "\n";
}

std::string BakeMetadataJson(const std::map<std::string, engine::BuildResult>& results,
                             const std::map<std::string, RemoteBuildInfo>* remote) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, result] : results) {
    const RemoteBuildInfo* info = nullptr;
    if (remote != nullptr) {
      auto it = remote->find(name);
      info = it != remote->end() ? &it->second : nullptr;
    }
    j[name] = WithRemote(MetadataObject(result), info);
  }
  return j.dump(2) + "\n";
}

}  // namespace berth::cmd
