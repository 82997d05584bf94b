#include "frontend/dockerfile/convert/convert.h"

#include <algorithm>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "base/gotext.h"
#include "base/strings.h"
#include "frontend/dockerfile/convert/mount.h"
#include "frontend/dockerfile/instructions/instructions.h"
#include "frontend/dockerfile/parser/parser.h"
#include "frontend/dockerfile/shell/lex.h"
#include "gitref/gitref.h"
#include "reference/reference.h"

namespace berth::frontend::dockerfile::convert {
namespace {

namespace ins = instructions;
using graph::Ref;

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* kPipesDir = "/dev/pipes";

const std::set<std::string>& ProxyArgs() {
  static const std::set<std::string> kProxy = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
      "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
  return kProxy;
}

// Builtin ARGs derived from the platforms.
std::map<std::string, std::string> PlatformArgs(const graph::Platform& target,
                                                const graph::Platform& build) {
  return {{"TARGETPLATFORM", target.ToString()}, {"TARGETOS", target.os},
          {"TARGETARCH", target.architecture},   {"TARGETVARIANT", target.variant},
          {"BUILDPLATFORM", build.ToString()},   {"BUILDOS", build.os},
          {"BUILDARCH", build.architecture},     {"BUILDVARIANT", build.variant}};
}

// Resolves `dest` against the working directory, keeping a trailing slash.
std::string ResolveDest(const std::string& workdir, const std::string& dest) {
  bool dir = !dest.empty() && (dest.back() == '/' || dest == "." || dest == "..");
  std::string joined =
      dest.rfind('/', 0) == 0 ? dest : (workdir.empty() ? "/" : workdir) + "/" + dest;
  std::string cleaned = gotext::CleanPath(joined);
  if (dir && cleaned != "/") {
    cleaned += "/";
  }
  return cleaned;
}

// ["a","b"] with Go quoting: JSON for valid UTF-8, and exact (no replacement) for any bytes.
std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ",";
    }
    out += gotext::Quote(items[i]);
  }
  return out + "]";
}

void SetEnv(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  std::string prefix = key + "=";
  for (std::string& e : env) {
    if (e.rfind(prefix, 0) == 0) {
      e = prefix + value;
      return;
    }
  }
  env.push_back(prefix + value);
}

std::optional<std::string> GetEnv(const std::vector<std::string>& env, std::string_view key) {
  // Later entries win, as they do for a process environment.
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    if (it->size() > key.size() && it->compare(0, key.size(), key) == 0 &&
        (*it)[key.size()] == '=') {
      return it->substr(key.size() + 1);
    }
    if (*it == key) {
      return std::string();
    }
  }
  return std::nullopt;
}

void AddSorted(std::vector<std::string>& list, const std::string& value) {
  auto it = std::lower_bound(list.begin(), list.end(), value);
  if (it == list.end() || *it != value) {
    list.insert(it, value);
  }
}

bool IsUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

std::string UrlFileName(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  size_t scheme = path.find("://");
  std::string rest = scheme == std::string::npos ? path : path.substr(scheme + 3);
  size_t slash = rest.find('/');
  if (slash == std::string::npos) {
    return "index.html";
  }
  std::string base = rest.substr(rest.rfind('/') + 1);
  return base.empty() ? "index.html" : base;
}

struct StageState {
  enum class Status { kPending, kVisiting, kDone };
  Status status = Status::kPending;
  Ref root;
  graph::Platform platform;
  ImageConfig config;
  bool cmd_set = false;
  // ARGs in scope, in declaration order; nullopt = declared without a value.
  std::vector<std::pair<std::string, std::optional<std::string>>> args;
  std::string base;
  std::string label;  // "build" or "stage-1", for descriptions
  bool ignore_cache = false;
};

class Converter {
 public:
  Converter(const Options& options, ins::Dockerfile df, char escape)
      : options_(options), df_(std::move(df)), lexer_(escape), states_(df_.stages.size()) {
    build_platform_ = options.build_platform.value_or(graph::HostPlatform());
    target_platform_ = options.target_platform.value_or(build_platform_);
  }

  Result<ConvertResult> Run() {
    BERTH_TRY(ResolveMetaArgs());
    size_t target = df_.stages.size() - 1;
    if (!options_.target.empty()) {
      std::string want = ToLower(options_.target);
      bool found = false;
      for (size_t i = 0; i < df_.stages.size(); ++i) {
        if (df_.stages[i].name == want) {
          target = i;
          found = true;
        }
      }
      if (!found) {
        return Error::InvalidArgument("target stage \"" + options_.target +
                                      "\" could not be found in " + options_.file_name);
      }
    }
    BERTH_TRY(ConvertStage(target));
    StageState& st = states_[target];
    result_.target = st.root;
    result_.config = st.config;
    for (const auto& [k, v] : options_.labels) {
      result_.config.labels[k] = v;
    }
    // Build args nobody declared are reported, as buildx does.
    std::vector<std::string> unused;
    for (const auto& [key, value] : options_.build_args) {
      if (consumed_.count(key) == 0 && ProxyArgs().count(key) == 0) {
        unused.push_back(key);
      }
    }
    if (!unused.empty()) {
      result_.warnings.push_back(
          {"one or more build args were not consumed: " + StrJoin(unused, ", "), 0});
    }
    result_.graph = std::move(graph_);
    return std::move(result_);
  }

 private:
  // ---- errors and expansion ----

  Error Fail(const ins::Instruction& inst, const std::string& message) const {
    return Error::InvalidArgument(options_.file_name + ":" +
                                  std::to_string(inst.location.start_line) + ": " + inst.keyword +
                                  ": " + message);
  }

  shell::EnvLookup StageLookup(const StageState& st) const {
    return [&st](std::string_view name) -> std::optional<std::string> {
      if (auto v = GetEnv(st.config.env, name)) {
        return v;
      }
      for (auto it = st.args.rbegin(); it != st.args.rend(); ++it) {
        if (it->first == name) {
          return it->second;
        }
      }
      return std::nullopt;
    };
  }

  Result<std::string> Expand(const StageState& st, const ins::Instruction& inst,
                             const std::string& word) const {
    Result<std::string> r = lexer_.ProcessWord(word, StageLookup(st));
    if (!r.ok()) {
      return Fail(inst, r.error().message());
    }
    return r;
  }

  // ---- global scope ----

  Result<> ResolveMetaArgs() {
    for (const auto& [k, v] : PlatformArgs(target_platform_, build_platform_)) {
      meta_[k] = v;
    }
    for (size_t i = 0; i < df_.meta_args.size(); ++i) {
      for (const ins::ArgSpec& spec : df_.meta_args[i].args) {
        std::optional<std::string> value;
        if (auto it = options_.build_args.find(spec.key); it != options_.build_args.end()) {
          value = it->second;
          consumed_.insert(spec.key);
        } else if (spec.value) {
          Result<std::string> expanded = lexer_.ProcessWord(*spec.value, MetaLookup());
          if (!expanded.ok()) {
            return Error::InvalidArgument(options_.file_name + ":" +
                                          std::to_string(df_.meta_arg_locations[i].start_line) +
                                          ": ARG: " + expanded.error().message());
          }
          value = *expanded;
        } else if (auto it = meta_.find(spec.key); it != meta_.end()) {
          value = it->second;
        }
        meta_[spec.key] = value;
        declared_meta_.insert(spec.key);
      }
    }
    return {};
  }

  shell::EnvLookup MetaLookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = meta_.find(std::string(name));
      if (it == meta_.end()) {
        return std::nullopt;
      }
      return it->second;
    };
  }

  // ---- sources ----

  Result<Ref> AddOp(graph::Op op, graph::Metadata meta) {
    graph::VertexId id = BERTH_TRY(graph_.Add(std::move(op), std::move(meta)));
    return Ref{id, 0};
  }

  Result<Ref> ContextSource() {
    if (context_) {
      return *context_;
    }
    graph::Op op;
    op.platform = build_platform_;
    graph::SourceOp src{"local://context", {}};
    if (!options_.context_excludes.empty()) {
      src.attrs["excludepatterns"] = QuotedList(options_.context_excludes);
    }
    op.op = std::move(src);
    context_ = BERTH_TRY(AddOp(std::move(op), {.description = "[internal] load build context"}));
    return *context_;
  }

  struct ImageState {
    Ref ref;
    ImageConfig config;
  };

  Result<ImageState> ImageSource(const std::string& name, const graph::Platform& platform,
                                 const ins::Instruction* inst, int line) {
    Result<reference::Reference> ref = reference::ParseNormalized(name);
    if (!ref.ok()) {
      std::string msg = ref.error().message();
      if (inst != nullptr) {
        return Fail(*inst, msg);
      }
      return Error::InvalidArgument(options_.file_name + ":" + std::to_string(line) + ": " + msg);
    }
    std::string identifier = "docker-image://" + ref->String();
    ImageState state;
    state.config.platform = platform;
    if (options_.resolver != nullptr) {
      Result<ImageResolver::Resolved> resolved =
          options_.resolver->Resolve(ref->String(), platform);
      if (!resolved.ok()) {
        Error e = std::move(resolved).error();
        return e.AddContext(options_.file_name + ":" + std::to_string(line) + ": resolving " +
                            ref->Familiar());
      }
      state.config = resolved->config;
      state.config.platform = platform;
      if (!resolved->digest.empty() && ref->digest.empty()) {
        identifier += "@" + resolved->digest;
      }
    }
    if (GetEnv(state.config.env, "PATH") == std::nullopt) {
      state.config.env.insert(state.config.env.begin(), kDefaultPath);
    }
    graph::Op op;
    op.platform = platform;
    op.op = graph::SourceOp{identifier, {}};
    state.ref = BERTH_TRY(
        AddOp(std::move(op), {.description = "[internal] load metadata for " + ref->Familiar(),
                              .locations = {{options_.file_name, line, line}}}));
    return state;
  }

  // Resolves a `--from` / `from=` name to a filesystem: a stage (by name or index), a named
  // build context, or an image.
  Result<Ref> ResolveFrom(const std::string& from, size_t current, const ins::Instruction& inst) {
    std::string lower = ToLower(from);
    for (size_t i = 0; i < df_.stages.size(); ++i) {
      if (!df_.stages[i].name.empty() && df_.stages[i].name == lower) {
        if (i == current) {
          return Fail(inst, "circular dependency detected on stage: " + from);
        }
        BERTH_TRY(ConvertStage(i));
        return states_[i].root;
      }
    }
    bool numeric = !from.empty() && std::all_of(from.begin(), from.end(),
                                                [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      if (from.size() > 6 || std::stoul(from) >= df_.stages.size()) {
        return Fail(inst, "stage index " + from + " out of bounds");
      }
      size_t i = std::stoul(from);
      if (i == current) {
        return Fail(inst, "circular dependency detected on stage: " + from);
      }
      BERTH_TRY(ConvertStage(i));
      return states_[i].root;
    }
    if (auto named = NamedContext(from, inst)) {
      return BERTH_TRY(std::move(*named)).ref;
    }
    ImageState img =
        BERTH_TRY(ImageSource(from, states_[current].platform, &inst, inst.location.start_line));
    return img.ref;
  }

  // A --build-context of that name, if one was given.
  std::optional<Result<ImageState>> NamedContext(const std::string& name,
                                                 const ins::Instruction& inst) {
    auto it = options_.build_contexts.find(name);
    if (it == options_.build_contexts.end()) {
      return std::nullopt;
    }
    const std::string& value = it->second;
    const std::string kImage = "docker-image://";
    if (value.rfind(kImage, 0) == 0) {
      return ImageSource(value.substr(kImage.size()), target_platform_, &inst,
                         inst.location.start_line);
    }
    graph::Op op;
    op.platform = build_platform_;
    op.op = graph::SourceOp{"local://" + name, {}};
    Result<Ref> ref =
        AddOp(std::move(op), {.description = "[internal] load build context " + name});
    if (!ref.ok()) {
      return std::move(ref).error();
    }
    ImageState state;
    state.ref = *ref;
    return state;
  }

  // ---- stages ----

  Result<> ConvertStage(size_t index) {
    StageState& st = states_[index];
    if (st.status == StageState::Status::kDone) {
      return {};
    }
    const ins::Stage& stage = df_.stages[index];
    if (st.status == StageState::Status::kVisiting) {
      return Error::InvalidArgument(
          options_.file_name + ":" + std::to_string(stage.location.start_line) +
          ": circular dependency detected on stage: " +
          (stage.original_name.empty() ? std::to_string(index) : stage.original_name));
    }
    st.status = StageState::Status::kVisiting;
    st.label = stage.original_name.empty() ? "stage-" + std::to_string(index) : stage.original_name;
    st.ignore_cache = options_.no_cache;
    for (const std::string& f : options_.no_cache_filter) {
      if (EqualsIgnoreCase(f, stage.name) || f == std::to_string(index)) {
        st.ignore_cache = true;
      }
    }
    int line = stage.location.start_line;
    auto fail = [&](const std::string& msg) {
      return Error::InvalidArgument(options_.file_name + ":" + std::to_string(line) +
                                    ": FROM: " + msg);
    };
    // Platform and base name expand in the global scope.
    st.platform = target_platform_;
    if (!stage.from.platform.empty()) {
      Result<std::string> p = lexer_.ProcessWord(stage.from.platform, MetaLookup());
      if (!p.ok()) {
        return fail(p.error().message());
      }
      Result<graph::Platform> parsed = graph::ParsePlatform(*p);
      if (!parsed.ok()) {
        return fail(parsed.error().message());
      }
      st.platform = *parsed;
    }
    Result<shell::ProcessResult> base =
        lexer_.ProcessWordWithMatches(stage.from.base_name, MetaLookup());
    if (!base.ok()) {
      return fail(base.error().message());
    }
    st.base = base->result;
    if (st.base.empty()) {
      return fail("base name (" + stage.from.base_name + ") should not be blank");
    }
    for (const std::string& name : base->unmatched) {
      if (declared_meta_.count(name) == 0) {
        result_.warnings.push_back({"FROM uses undefined ARG " + name, line});
      }
    }
    // The base: an earlier stage, a named context, scratch, or an image.
    bool based = false;
    std::string lower = ToLower(st.base);
    for (size_t i = 0; i < index && !based; ++i) {
      if (!df_.stages[i].name.empty() && df_.stages[i].name == lower) {
        BERTH_TRY(ConvertStage(i));
        st.root = states_[i].root;
        st.config = states_[i].config;
        st.config.platform = st.platform;
        st.cmd_set = false;
        based = true;
      }
    }
    ins::Instruction from_inst{"FROM", stage.from.base_name, stage.location, stage.from};
    if (!based && options_.build_contexts.count(st.base) != 0) {
      ImageState named = BERTH_TRY(*NamedContext(st.base, from_inst));
      st.root = named.ref;
      st.config = named.config;
      based = true;
    }
    if (!based && lower == "scratch") {
      st.root = Ref{};
      st.config.env = {kDefaultPath};
      st.config.platform = st.platform;
      based = true;
    }
    if (!based) {
      ImageState img = BERTH_TRY(ImageSource(st.base, st.platform, &from_inst, line));
      st.root = img.ref;
      st.config = img.config;
    }
    // ONBUILD triggers of the base run first, and are not inherited.
    std::vector<std::string> triggers = std::move(st.config.on_build);
    st.config.on_build.clear();
    for (const std::string& trigger : triggers) {
      Result<parser::Ast> ast = parser::Parse(trigger, options_.file_name);
      if (!ast.ok() || ast->children.size() != 1) {
        return fail("invalid ONBUILD trigger in base image: " + trigger);
      }
      ins::Instruction inst =
          BERTH_TRY(ins::ParseInstruction(ast->children[0], options_.file_name));
      inst.location = stage.location;
      BERTH_TRY(Dispatch(index, inst, 0, 0));
    }
    size_t total = stage.commands.size() + 1;
    for (size_t i = 0; i < stage.commands.size(); ++i) {
      BERTH_TRY(Dispatch(index, stage.commands[i], i + 2, total));
    }
    st.status = StageState::Status::kDone;
    result_.stages.push_back(StageInfo{st.label, static_cast<int>(index), st.base, st.root});
    return {};
  }

  graph::Metadata Meta(const StageState& st, const ins::Instruction& inst, size_t step,
                       size_t total) const {
    std::string text(Trim(inst.original));
    for (char& c : text) {
      if (c == '\n' || c == '\t') {
        c = ' ';
      }
    }
    graph::Metadata meta;
    meta.description = step == 0 ? "[" + st.label + " onbuild] " + text
                                 : "[" + st.label + " " + std::to_string(step) + "/" +
                                       std::to_string(total) + "] " + text;
    meta.locations = {{options_.file_name, inst.location.start_line, inst.location.end_line}};
    meta.ignore_cache = st.ignore_cache;
    meta.stage = st.label;
    return meta;
  }

  void History(StageState& st, const std::string& created_by, bool empty_layer) {
    st.config.history.push_back(HistoryEntry{created_by, "buildkit.dockerfile.v0", empty_layer});
  }

  std::vector<std::string> Shell(const StageState& st) const {
    return st.config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : st.config.shell;
  }

  Result<> Dispatch(size_t index, const ins::Instruction& inst, size_t step, size_t total) {
    StageState& st = states_[index];
    return std::visit(
        [&](const auto& cmd) {
          using T = std::decay_t<decltype(cmd)>;
          if constexpr (std::is_same_v<T, ins::RunCmd>) {
            return DispatchRun(index, inst, cmd, Meta(st, inst, step, total));
          } else if constexpr (std::is_same_v<T, ins::CopyCmd>) {
            return DispatchCopy(index, inst, cmd, Meta(st, inst, step, total));
          } else if constexpr (std::is_same_v<T, ins::WorkdirCmd>) {
            return DispatchWorkdir(st, inst, cmd, Meta(st, inst, step, total));
          } else {
            return DispatchMeta(st, inst, cmd);
          }
        },
        inst.command);
  }

  // ---- metadata instructions ----

  template <typename T>
  Result<> DispatchMeta(StageState& st, const ins::Instruction& inst, const T& cmd) {
    if constexpr (std::is_same_v<T, ins::EnvCmd>) {
      std::vector<std::string> parts;
      for (const ins::KeyValue& kv : cmd.env) {
        std::string key = BERTH_TRY(Expand(st, inst, kv.key));
        std::string value = BERTH_TRY(Expand(st, inst, kv.value));
        SetEnv(st.config.env, key, value);
        parts.push_back(key + "=" + value);
      }
      History(st, "ENV " + StrJoin(parts, " "), true);
    } else if constexpr (std::is_same_v<T, ins::ArgCmd>) {
      std::map<std::string, std::string> platform_args =
          PlatformArgs(target_platform_, build_platform_);
      for (const ins::ArgSpec& spec : cmd.args) {
        std::optional<std::string> value;
        if (auto it = options_.build_args.find(spec.key); it != options_.build_args.end()) {
          value = it->second;
          consumed_.insert(spec.key);
        } else if (spec.value) {
          value = BERTH_TRY(Expand(st, inst, *spec.value));
        } else if (auto pa = platform_args.find(spec.key); pa != platform_args.end()) {
          value = pa->second;
        } else if (auto m = meta_.find(spec.key);
                   m != meta_.end() && declared_meta_.count(spec.key) != 0) {
          value = m->second;
        }
        st.args.emplace_back(spec.key, value);
      }
    } else if constexpr (std::is_same_v<T, ins::LabelCmd>) {
      std::vector<std::string> parts;
      for (const ins::KeyValue& kv : cmd.labels) {
        std::string key = BERTH_TRY(Expand(st, inst, kv.key));
        std::string value = BERTH_TRY(Expand(st, inst, kv.value));
        st.config.labels[key] = value;
        parts.push_back(key + "=" + value);
      }
      History(st, "LABEL " + StrJoin(parts, " "), true);
    } else if constexpr (std::is_same_v<T, ins::CmdCmd>) {
      st.config.cmd = cmd.cmd_line;
      if (cmd.prepend_shell) {
        st.config.cmd = Shell(st);
        st.config.cmd.insert(st.config.cmd.end(), cmd.cmd_line.begin(), cmd.cmd_line.end());
      }
      st.cmd_set = true;
      History(st, "CMD " + QuotedList(st.config.cmd), true);
    } else if constexpr (std::is_same_v<T, ins::EntrypointCmd>) {
      st.config.entrypoint = cmd.cmd_line;
      if (cmd.prepend_shell) {
        st.config.entrypoint = Shell(st);
        st.config.entrypoint.insert(st.config.entrypoint.end(), cmd.cmd_line.begin(),
                                    cmd.cmd_line.end());
      }
      // An ENTRYPOINT resets a CMD inherited from the base, not one set in this stage.
      if (!st.cmd_set) {
        st.config.cmd.clear();
      }
      History(st, "ENTRYPOINT " + QuotedList(st.config.entrypoint), true);
    } else if constexpr (std::is_same_v<T, ins::ShellCmd>) {
      st.config.shell = cmd.shell;
      History(st, "SHELL " + QuotedList(cmd.shell), true);
    } else if constexpr (std::is_same_v<T, ins::UserCmd>) {
      st.config.user = BERTH_TRY(Expand(st, inst, cmd.user));
      History(st, "USER " + st.config.user, true);
    } else if constexpr (std::is_same_v<T, ins::ExposeCmd>) {
      std::vector<std::string> ports;
      for (const std::string& raw : cmd.ports) {
        std::string p = BERTH_TRY(Expand(st, inst, raw));
        for (const std::string& one : StrSplit(p, ' ')) {
          if (one.empty()) {
            continue;
          }
          std::string port = one.find('/') == std::string::npos ? one + "/tcp" : ToLower(one);
          std::string number = port.substr(0, port.find('/'));
          std::string proto = port.substr(port.find('/') + 1);
          bool valid = !number.empty() && (proto == "tcp" || proto == "udp" || proto == "sctp");
          for (char c : number) {
            valid = valid && ((c >= '0' && c <= '9') || c == '-');
          }
          if (!valid) {
            return Fail(inst, "invalid port \"" + one + "\"");
          }
          AddSorted(st.config.exposed_ports, port);
          ports.push_back(port);
        }
      }
      History(st, "EXPOSE map[" + StrJoin(ports, " ") + "]", true);
    } else if constexpr (std::is_same_v<T, ins::VolumeCmd>) {
      for (const std::string& raw : cmd.volumes) {
        std::string v = BERTH_TRY(Expand(st, inst, raw));
        if (Trim(v).empty()) {
          return Fail(inst, "VOLUME specified can not be an empty string");
        }
        AddSorted(st.config.volumes, v);
      }
      History(st, "VOLUME " + QuotedList(cmd.volumes), true);
    } else if constexpr (std::is_same_v<T, ins::StopSignalCmd>) {
      st.config.stop_signal = BERTH_TRY(Expand(st, inst, cmd.signal));
      History(st, "STOPSIGNAL " + st.config.stop_signal, true);
    } else if constexpr (std::is_same_v<T, ins::HealthcheckCmd>) {
      Healthcheck hc{cmd.test,         cmd.interval,       cmd.timeout,
                     cmd.start_period, cmd.start_interval, cmd.retries};
      st.config.healthcheck = hc;
      History(st, "HEALTHCHECK " + QuotedList(cmd.test), true);
    } else if constexpr (std::is_same_v<T, ins::OnbuildCmd>) {
      st.config.on_build.push_back(cmd.expression);
      History(st, "ONBUILD " + cmd.expression, true);
    } else if constexpr (std::is_same_v<T, ins::MaintainerCmd>) {
      st.config.author = cmd.maintainer;
      result_.warnings.push_back(
          {"MAINTAINER is deprecated: use LABEL org.opencontainers.image.authors",
           inst.location.start_line});
      History(st, "MAINTAINER " + cmd.maintainer, true);
    } else if constexpr (std::is_same_v<T, ins::FromCmd>) {
      return Fail(inst, "unexpected FROM");
    }
    return {};
  }

  Result<> DispatchWorkdir(StageState& st, const ins::Instruction& inst, const ins::WorkdirCmd& cmd,
                           graph::Metadata meta) {
    std::string dir = BERTH_TRY(Expand(st, inst, cmd.path));
    if (dir.empty()) {
      return Fail(inst, "WORKDIR can not be empty");
    }
    std::string base = st.config.working_dir.empty() ? "/" : st.config.working_dir;
    st.config.working_dir = gotext::CleanPath(dir.rfind('/', 0) == 0 ? dir : base + "/" + dir);
    graph::MkdirAction mkdir;
    mkdir.path = st.config.working_dir;
    mkdir.make_parents = true;
    if (!st.config.user.empty()) {
      mkdir.chown = ParseChown(st.config.user);
    }
    graph::Op op;
    op.inputs = {st.root};
    op.platform = st.platform;
    op.op = graph::FileOp{0, {mkdir}};
    st.root = BERTH_TRY(AddOp(std::move(op), std::move(meta)));
    History(st, "WORKDIR " + st.config.working_dir, false);
    return {};
  }

  static graph::ChownOpt ParseChown(const std::string& spec) {
    auto [user, group] = SplitOnce(spec, ':');
    return graph::ChownOpt{user, group};
  }

  // ---- RUN ----

  std::vector<std::string> ExecEnv(const StageState& st) const {
    std::vector<std::string> env = st.config.env;
    for (const auto& [key, value] : st.args) {
      if (value && !GetEnv(st.config.env, key)) {
        SetEnv(env, key, *value);
      }
    }
    // Proxy build args reach RUN without being declared.
    for (const auto& [key, value] : options_.build_args) {
      if (ProxyArgs().count(key) != 0 && !GetEnv(env, key)) {
        env.push_back(key + "=" + value);
      }
    }
    return env;
  }

  Result<> DispatchRun(size_t index, const ins::Instruction& inst, const ins::RunCmd& cmd,
                       graph::Metadata meta) {
    StageState& st = states_[index];
    graph::Op op;
    op.platform = st.platform;
    op.inputs = {st.root};
    graph::ExecOp exec;
    exec.env = ExecEnv(st);
    exec.cwd = st.config.working_dir.empty() ? "/" : st.config.working_dir;
    exec.user = st.config.user;
    exec.extra_hosts = options_.extra_hosts;
    exec.network = options_.network;
    if (cmd.network == "none") {
      exec.network = graph::NetworkMode::kNone;
    } else if (cmd.network == "host") {
      exec.network = graph::NetworkMode::kHost;
    } else if (cmd.network == "default") {
      exec.network = graph::NetworkMode::kDefault;
    }
    if (cmd.security == "insecure") {
      exec.security = graph::SecurityMode::kInsecure;
    }
    graph::Mount rootfs;
    rootfs.input = 0;
    rootfs.dest = "/";
    rootfs.output = 0;
    exec.mounts.push_back(rootfs);

    // The command line, with heredocs.
    std::string created_by;
    if (!cmd.prepend_shell) {
      exec.args = cmd.cmd_line;
      created_by = "RUN " + StrJoin(cmd.cmd_line, " ");
    } else {
      std::string line = cmd.cmd_line.empty() ? "" : cmd.cmd_line[0];
      exec.args = Shell(st);
      if (cmd.files.empty()) {
        exec.args.push_back(line);
      } else {
        BERTH_TRY(HeredocRun(st, inst, cmd, line, op, exec));
      }
      created_by = "RUN " + StrJoin(Shell(st), " ") + " " + line;
    }
    if (exec.args.empty()) {
      return Fail(inst, "empty command");
    }

    for (const std::string& raw : cmd.mounts) {
      std::string value = BERTH_TRY(Expand(st, inst, raw));
      Result<MountSpec> spec = ParseMount(value);
      if (!spec.ok()) {
        return Fail(inst, "--mount=" + value + ": " + spec.error().message());
      }
      graph::Mount m;
      m.type = spec->type;
      m.readonly = spec->readonly;
      m.selector = spec->source;
      if (!spec->target.empty()) {
        m.dest = spec->target.rfind('/', 0) == 0 ? gotext::CleanPath(spec->target)
                                                 : gotext::CleanPath(exec.cwd + "/" + spec->target);
      }
      m.secret_env = spec->env;
      m.optional = !spec->required;
      m.uid = spec->uid.value_or(0);
      m.gid = spec->gid.value_or(0);
      m.mode_set = spec->mode.has_value();
      m.mode = spec->mode.value_or(0);
      m.size = spec->size;
      switch (spec->type) {
        case graph::MountType::kBind: {
          Ref from = spec->from.empty() ? BERTH_TRY(ContextSource())
                                        : BERTH_TRY(ResolveFrom(spec->from, index, inst));
          m.input = static_cast<int32_t>(op.inputs.size());
          op.inputs.push_back(from);
          break;
        }
        case graph::MountType::kCache:
          m.cache_id = spec->id;
          m.sharing = spec->sharing;
          if (!spec->from.empty()) {
            Ref from = BERTH_TRY(ResolveFrom(spec->from, index, inst));
            m.input = static_cast<int32_t>(op.inputs.size());
            op.inputs.push_back(from);
          }
          break;
        case graph::MountType::kSecret:
          m.secret_id = spec->id;
          if (std::find(result_.secrets.begin(), result_.secrets.end(), spec->id) ==
              result_.secrets.end()) {
            result_.secrets.push_back(spec->id);
          }
          break;
        case graph::MountType::kSsh:
          m.secret_id = spec->id;
          if (std::find(result_.ssh.begin(), result_.ssh.end(), spec->id) == result_.ssh.end()) {
            result_.ssh.push_back(spec->id);
          }
          break;
        case graph::MountType::kTmpfs:
          break;
      }
      if (m.dest == "/") {
        return Fail(inst, "cannot mount over the root filesystem");
      }
      exec.mounts.push_back(std::move(m));
    }
    op.op = std::move(exec);
    st.root = BERTH_TRY(AddOp(std::move(op), std::move(meta)));
    History(st, created_by + " # buildkit", false);
    return {};
  }

  // RUN with heredocs. A lone heredoc that is the whole command runs as a script (directly when
  // it has a shebang); otherwise each heredoc becomes a file under /dev/pipes and the command's
  // `<<NAME` redirections read from those files.
  Result<> HeredocRun(StageState& st, const ins::Instruction& inst, const ins::RunCmd& cmd,
                      const std::string& line, graph::Op& op, graph::ExecOp& exec) {
    std::vector<graph::FileAction> files;
    std::vector<std::string> contents;
    for (const ins::ShellFile& f : cmd.files) {
      std::string data = f.chomp ? parser::ChompHeredocContent(f.data) : f.data;
      contents.push_back(data);
      graph::MkfileAction mk;
      mk.path = "/" + f.name;
      mk.mode = 0755;
      mk.data = std::move(data);
      files.emplace_back(std::move(mk));
    }
    std::string trimmed(Trim(line));
    bool lone = cmd.files.size() == 1 &&
                (trimmed == "<<" + cmd.files[0].name || trimmed == "<<-" + cmd.files[0].name ||
                 (trimmed.rfind("<<", 0) == 0 && parser::HeredocsFromLine(trimmed).size() == 1 &&
                  trimmed.find(' ') == std::string::npos));
    if (lone && cmd.files[0].expand && contents[0].rfind("#!", 0) != 0) {
      exec.args.push_back(contents[0]);
      return {};
    }
    graph::Op pipes;
    pipes.platform = st.platform;
    pipes.inputs = {};
    pipes.op = graph::FileOp{-1, std::move(files)};
    graph::Metadata meta;
    meta.description =
        "[" + st.label + "] heredocs for line " + std::to_string(inst.location.start_line);
    meta.locations = {{options_.file_name, inst.location.start_line, inst.location.end_line}};
    Ref pipes_ref = BERTH_TRY(AddOp(std::move(pipes), std::move(meta)));
    graph::Mount m;
    m.type = graph::MountType::kBind;
    m.input = static_cast<int32_t>(op.inputs.size());
    op.inputs.push_back(pipes_ref);
    m.dest = kPipesDir;
    m.readonly = true;
    exec.mounts.push_back(m);
    std::string first = std::string(kPipesDir) + "/" + cmd.files[0].name;
    if (lone) {
      if (contents[0].rfind("#!", 0) == 0) {
        exec.args = {first};
      } else {
        exec.args.push_back(first);  // not expanded: the shell runs the file as a script
      }
      return {};
    }
    // Rewrite each heredoc redirection to read its file.
    std::string rewritten;
    size_t pos = 0;
    size_t next = 0;
    while (pos < line.size()) {
      size_t at = line.find("<<", pos);
      if (at == std::string::npos || next >= cmd.files.size()) {
        rewritten += line.substr(pos);
        break;
      }
      rewritten += line.substr(pos, at - pos);
      size_t end = at + 2;
      if (end < line.size() && line[end] == '-') {
        ++end;
      }
      while (end < line.size() && line[end] == ' ') {
        ++end;
      }
      size_t word_end = end;
      char quote = 0;
      while (word_end < line.size()) {
        char c = line[word_end];
        if (quote != 0) {
          if (c == quote) {
            quote = 0;
          }
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == ' ' || c == '\t' || c == ';' || c == '|' || c == '&' || c == '>' ||
                   c == '<' || c == ')') {
          break;
        }
        ++word_end;
      }
      rewritten += "<" + std::string(kPipesDir) + "/" + cmd.files[next++].name;
      pos = word_end;
    }
    exec.args.push_back(rewritten);
    return {};
  }

  // ---- COPY / ADD ----

  Result<> DispatchCopy(size_t index, const ins::Instruction& inst, const ins::CopyCmd& cmd,
                        graph::Metadata meta) {
    StageState& st = states_[index];
    std::string dest_raw = BERTH_TRY(Expand(st, inst, cmd.dest));
    std::string dest = ResolveDest(st.config.working_dir, dest_raw);
    size_t nsources = cmd.source_paths.size() + cmd.source_contents.size();
    if (nsources > 1 && dest.back() != '/') {
      return Fail(inst, "When using " + inst.keyword +
                            " with more than one source file, the destination must be a "
                            "directory and end with a /");
    }
    std::optional<graph::ChownOpt> chown;
    if (!cmd.chown.empty()) {
      chown = ParseChown(BERTH_TRY(Expand(st, inst, cmd.chown)));
    }
    std::string chmod;
    if (!cmd.chmod.empty()) {
      chmod = BERTH_TRY(Expand(st, inst, cmd.chmod));
      if (!ValidChmod(chmod)) {
        return Fail(inst, "invalid chmod \"" + chmod + "\": want octal (0755) or symbolic (u+x)");
      }
    }
    std::vector<std::string> excludes;
    for (const std::string& e : cmd.excludes) {
      excludes.push_back(BERTH_TRY(Expand(st, inst, e)));
    }

    graph::Op op;
    op.platform = st.platform;
    // With --link the files land on an empty layer that is merged onto the stage.
    op.inputs = {cmd.link ? Ref{} : st.root};
    graph::FileOp file{0, {}};
    std::vector<std::string> shown;

    Ref from_ref;
    bool from_context = cmd.from.empty();
    if (!cmd.from.empty()) {
      std::string from = BERTH_TRY(Expand(st, inst, cmd.from));
      from_ref = BERTH_TRY(ResolveFrom(from, index, inst));
    }
    auto add_input = [&](Ref ref) {
      for (size_t i = 0; i < op.inputs.size(); ++i) {
        if (i > 0 && op.inputs[i] == ref) {
          return static_cast<int32_t>(i);
        }
      }
      op.inputs.push_back(ref);
      return static_cast<int32_t>(op.inputs.size() - 1);
    };

    for (const std::string& raw : cmd.source_paths) {
      std::string src = BERTH_TRY(Expand(st, inst, raw));
      shown.push_back(src);
      graph::CopyAction copy;
      copy.dest = dest;
      copy.chown = chown;
      copy.chmod = chmod;
      copy.exclude_patterns = excludes;
      copy.parents = cmd.parents;
      std::optional<gitref::GitRef> git_ref;
      if (cmd.add && from_context) {
        Result<std::optional<gitref::GitRef>> parsed = gitref::ParseGitRef(src);
        if (!parsed.ok()) {
          return Fail(inst, parsed.error().message());
        }
        // The "github.com/x/y" form is a local path to ADD, as in BuildKit.
        if (*parsed && !(*parsed)->indistinguishable_from_local) {
          git_ref = **parsed;
        }
      }
      if (git_ref) {
        graph::Op git;
        git.platform = st.platform;
        // Identified by remote, ref and subdir: the cache key resolves the ref to a commit.
        graph::SourceOp source{"git://" + git_ref->remote, {}};
        if (!git_ref->ref.empty()) {
          source.attrs["ref"] = git_ref->ref;
        }
        if (!git_ref->subdir.empty()) {
          source.attrs["subdir"] = git_ref->subdir;
        }
        if (cmd.keep_git_dir || git_ref->keep_git_dir.value_or(false)) {
          source.attrs["keepgitdir"] = "true";
        }
        if (git_ref->submodules.has_value()) {
          source.attrs["submodules"] = *git_ref->submodules ? "true" : "false";
        }
        std::string checksum = git_ref->checksum;
        if (!cmd.checksum.empty()) {
          checksum = BERTH_TRY(Expand(st, inst, cmd.checksum));
        }
        if (!checksum.empty()) {
          source.attrs["checksum"] = checksum;
        }
        git.op = std::move(source);
        Ref ref =
            BERTH_TRY(AddOp(std::move(git), {.description = "[internal] load git source " + src}));
        copy.src_input = add_input(ref);
        copy.src = "/";
        copy.allow_wildcard = false;
      } else if (cmd.add && from_context && IsUrl(src)) {
        graph::Op http;
        http.platform = st.platform;
        std::string filename = UrlFileName(src);
        graph::SourceOp source{src, {{"filename", filename}}};
        if (!cmd.checksum.empty()) {
          source.attrs["checksum"] = BERTH_TRY(Expand(st, inst, cmd.checksum));
        }
        http.op = std::move(source);
        Ref ref = BERTH_TRY(AddOp(std::move(http), {.description = "[internal] load " + src}));
        copy.src_input = add_input(ref);
        copy.src = "/" + filename;
        copy.allow_wildcard = false;
        copy.attempt_unpack = cmd.unpack.value_or(false);
      } else {
        if (!cmd.checksum.empty()) {
          return Fail(inst, "--checksum applies only to HTTP(S) and git sources");
        }
        Ref ref = from_context ? BERTH_TRY(ContextSource()) : from_ref;
        copy.src_input = add_input(ref);
        // Sources are relative to the context (or the --from root) whatever their spelling.
        std::string cleaned = gotext::CleanPath("/" + src);
        if (!src.empty() && src.back() == '/' && cleaned != "/") {
          cleaned += "/";
        }
        copy.src = cleaned;
        copy.attempt_unpack = cmd.add && cmd.unpack.value_or(true);
      }
      file.actions.emplace_back(std::move(copy));
    }
    for (const ins::SourceContent& content : cmd.source_contents) {
      std::string data = content.data;
      if (content.expand) {
        data = BERTH_TRY(Expand(st, inst, data));
      }
      graph::MkfileAction mk;
      mk.path = dest.back() == '/' ? dest + content.path : dest;
      mk.data = std::move(data);
      mk.chown = chown;
      if (!chmod.empty()) {
        mk.mode = static_cast<uint32_t>(std::strtoul(chmod.c_str(), nullptr, 8));
      }
      shown.push_back("<<" + content.path);
      file.actions.emplace_back(std::move(mk));
    }
    op.op = std::move(file);
    Ref copied = BERTH_TRY(AddOp(std::move(op), meta));
    if (cmd.link) {
      graph::Op merge;
      merge.platform = st.platform;
      merge.inputs = {st.root, copied};
      merge.op = graph::MergeOp{};
      st.root = BERTH_TRY(AddOp(std::move(merge), std::move(meta)));
    } else {
      st.root = copied;
    }
    History(st, inst.keyword + " " + StrJoin(shown, " ") + " " + dest + " # buildkit", false);
    return {};
  }

  static bool ValidChmod(const std::string& mode) {
    if (mode.empty()) {
      return false;
    }
    if (std::all_of(mode.begin(), mode.end(), [](char c) { return c >= '0' && c <= '7'; })) {
      return mode.size() <= 4;
    }
    for (const std::string& clause : StrSplit(mode, ',')) {
      size_t i = 0;
      while (i < clause.size() && std::string_view("ugoa").find(clause[i]) != std::string::npos) {
        ++i;
      }
      if (i >= clause.size() || std::string_view("+-=").find(clause[i]) == std::string::npos) {
        return false;
      }
      while (i < clause.size()) {
        if (std::string_view("+-=rwxXst").find(clause[i]) == std::string::npos) {
          return false;
        }
        ++i;
      }
    }
    return true;
  }

  const Options& options_;
  ins::Dockerfile df_;
  shell::Lexer lexer_;
  std::vector<StageState> states_;
  graph::Platform build_platform_;
  graph::Platform target_platform_;
  std::map<std::string, std::optional<std::string>> meta_;
  std::set<std::string> declared_meta_;
  std::set<std::string> consumed_;
  std::optional<Ref> context_;
  graph::Graph graph_;
  ConvertResult result_;
};

}  // namespace

Result<ConvertResult> Convert(std::string_view dockerfile, const Options& options) {
  parser::Ast ast = BERTH_TRY(parser::Parse(dockerfile, options.file_name));
  ins::Dockerfile df = BERTH_TRY(ins::Parse(ast, options.file_name));
  Converter converter(options, std::move(df), ast.escape_token);
  ConvertResult result = BERTH_TRY(converter.Run());
  for (const parser::Warning& w : ast.warnings) {
    result.warnings.push_back({w.message, w.line});
  }
  return result;
}

std::string ConfigToJson(const ImageConfig& c) {
  using nlohmann::json;
  json j{{"Env", c.env},
         {"Cmd", c.cmd},
         {"Entrypoint", c.entrypoint},
         {"User", c.user},
         {"WorkingDir", c.working_dir},
         {"Labels", c.labels},
         {"ExposedPorts", c.exposed_ports},
         {"Volumes", c.volumes},
         {"OnBuild", c.on_build},
         {"platform", c.platform.ToString()}};
  if (!c.shell.empty()) {
    j["Shell"] = c.shell;
  }
  if (!c.stop_signal.empty()) {
    j["StopSignal"] = c.stop_signal;
  }
  if (c.healthcheck) {
    j["Healthcheck"] = json{{"Test", c.healthcheck->test},
                            {"Interval", c.healthcheck->interval},
                            {"Timeout", c.healthcheck->timeout},
                            {"StartPeriod", c.healthcheck->start_period},
                            {"StartInterval", c.healthcheck->start_interval},
                            {"Retries", c.healthcheck->retries}};
  }
  json history = json::array();
  for (const HistoryEntry& h : c.history) {
    history.push_back(json{{"created_by", h.created_by}, {"empty_layer", h.empty_layer}});
  }
  j["history"] = history;
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace berth::frontend::dockerfile::convert
