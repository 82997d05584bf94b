#include "frontend/dockerfile/instructions/instructions.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "base/strings.h"

namespace berth::frontend::dockerfile::instructions {
namespace {

using parser::Node;

Error Fail(std::string_view file, const Node& node, const std::string& message) {
  return Error::InvalidArgument(std::string(file) + ":" + std::to_string(node.start_line) + ": " +
                                message);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

enum class FlagType { kBool, kString, kStrings };

// The flags one instruction accepts, parsed like BuildKit's BFlags.
class Flags {
 public:
  void Add(std::string name, FlagType type) { specs_[std::move(name)] = type; }

  // Returns an error message, or "" on success.
  std::string Parse(const std::vector<std::string>& args) {
    for (const std::string& arg : args) {
      if (arg.rfind("--", 0) != 0) {
        return "arg should start with -- : " + arg;
      }
      if (arg == "--") {
        return "";
      }
      std::string name = arg.substr(2);
      std::string value;
      bool has_value = false;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      auto spec = specs_.find(name);
      if (spec == specs_.end()) {
        std::string msg = "unknown flag: --" + name;
        std::string best;
        size_t best_distance = 3;
        for (const auto& [known, type] : specs_) {
          size_t d = EditDistance(name, known);
          if (d < best_distance) {
            best_distance = d;
            best = known;
          }
        }
        if (!best.empty()) {
          msg += " (did you mean --" + best + "?)";
        }
        return msg;
      }
      if (spec->second != FlagType::kStrings && used_.count(name) != 0) {
        return "duplicate flag specified: " + name;
      }
      used_.insert(name);
      switch (spec->second) {
        case FlagType::kBool: {
          if (has_value && value.empty()) {
            return "missing a value on flag: " + name;
          }
          std::string lower = ToLower(value);
          if (lower.empty() || lower == "true") {
            values_[name] = {"true"};
          } else if (lower == "false") {
            values_[name] = {"false"};
          } else {
            return "expecting boolean value for flag " + name + ", not: " + value;
          }
          break;
        }
        case FlagType::kString:
          if (!has_value) {
            return "missing a value on flag: " + name;
          }
          values_[name] = {value};
          break;
        case FlagType::kStrings:
          if (!has_value) {
            return "missing a value on flag: " + name;
          }
          values_[name].push_back(value);
          break;
      }
    }
    return "";
  }

  std::string String(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() || it->second.empty() ? "" : it->second.back();
  }
  std::vector<std::string> Strings(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  bool Bool(const std::string& name) const { return String(name) == "true"; }
  bool Used(const std::string& name) const { return used_.count(name) != 0; }

 private:
  std::map<std::string, FlagType> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> used_;
};

// Parses the node's flags against `flags`, failing with "KEYWORD: message".
Result<> ParseFlags(std::string_view file, const Node& node, Flags& flags) {
  std::string msg = flags.Parse(node.flags);
  if (!msg.empty()) {
    return Fail(file, node, Upper(node.keyword) + ": " + msg);
  }
  return {};
}

Result<> NoFlags(std::string_view file, const Node& node) {
  Flags none;
  return ParseFlags(file, node, none);
}

Result<int64_t> ParseOptDuration(std::string_view file, const Node& node, const Flags& flags,
                                 const std::string& name) {
  std::string text = flags.String(name);
  if (text.empty() || text == "0") {
    return int64_t{0};
  }
  Result<int64_t> d = ParseDuration(text);
  if (!d.ok()) {
    return Fail(file, node, "HEALTHCHECK: " + d.error().message());
  }
  constexpr int64_t kMinimum = 1000000;  // 1ms, Docker's minimum health-check duration
  if (*d < kMinimum) {
    return Fail(file, node, "Interval \"" + name + "\" cannot be less than 1ms");
  }
  return *d;
}

std::string OriginalKeyword(const Node& node) {
  std::string_view text = Trim(node.original);
  size_t end = 0;
  while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end])) == 0) {
    ++end;
  }
  std::string word(text.substr(0, end));
  return word.empty() ? node.keyword : word;
}

Result<Instruction> ParseCopy(std::string_view file, const Node& node, bool add, Instruction inst) {
  Flags flags;
  flags.Add("chown", FlagType::kString);
  flags.Add("chmod", FlagType::kString);
  flags.Add("link", FlagType::kBool);
  flags.Add("exclude", FlagType::kStrings);
  if (add) {
    flags.Add("checksum", FlagType::kString);
    flags.Add("keep-git-dir", FlagType::kBool);
    flags.Add("unpack", FlagType::kBool);
  } else {
    flags.Add("from", FlagType::kString);
    flags.Add("parents", FlagType::kBool);
  }
  BERTH_TRY(ParseFlags(file, node, flags));
  const char* name = add ? "ADD" : "COPY";
  if (node.args.size() < 2) {
    return Fail(file, node,
                std::string(name) + " requires at least two arguments, but only " +
                    std::to_string(node.args.size()) + " provided");
  }
  CopyCmd cmd;
  cmd.add = add;
  cmd.from = flags.String("from");
  cmd.chown = flags.String("chown");
  cmd.chmod = flags.String("chmod");
  cmd.link = flags.Bool("link");
  cmd.parents = flags.Bool("parents");
  cmd.excludes = flags.Strings("exclude");
  cmd.checksum = flags.String("checksum");
  cmd.keep_git_dir = flags.Bool("keep-git-dir");
  if (flags.Used("unpack")) {
    cmd.unpack = flags.Bool("unpack");
  }
  // Heredoc sources are matched to the node's heredocs in order of appearance.
  size_t next_heredoc = 0;
  auto heredoc_name = [&](const std::string& word) -> std::optional<std::string> {
    if (node.json) {
      return std::nullopt;
    }
    std::vector<parser::Heredoc> found = parser::HeredocsFromLine(word);
    if (found.size() != 1 || word.rfind("<<", 0) == std::string::npos) {
      return std::nullopt;
    }
    return found[0].name;
  };
  const std::string& dest = node.args.back();
  if (heredoc_name(dest)) {
    return Fail(file, node, std::string(name) + " cannot accept a heredoc as a destination");
  }
  cmd.dest = dest;
  for (size_t i = 0; i + 1 < node.args.size(); ++i) {
    const std::string& src = node.args[i];
    if (auto hd = heredoc_name(src); hd && next_heredoc < node.heredocs.size()) {
      const parser::Heredoc& h = node.heredocs[next_heredoc++];
      std::string data = h.chomp ? parser::ChompHeredocContent(h.content) : h.content;
      cmd.source_contents.push_back(SourceContent{h.name, std::move(data), h.expand});
    } else {
      cmd.source_paths.push_back(src);
    }
  }
  inst.command = std::move(cmd);
  return inst;
}

Result<Instruction> ParseRunLike(std::string_view file, const Node& node, Instruction inst) {
  Flags flags;
  flags.Add("mount", FlagType::kStrings);
  flags.Add("network", FlagType::kString);
  flags.Add("security", FlagType::kString);
  BERTH_TRY(ParseFlags(file, node, flags));
  if (node.args.empty()) {
    return Fail(file, node, "RUN requires at least one argument");
  }
  RunCmd cmd;
  cmd.cmd_line = node.args;
  cmd.prepend_shell = !node.json;
  cmd.mounts = flags.Strings("mount");
  cmd.network = flags.String("network");
  cmd.security = flags.String("security");
  if (!cmd.network.empty() && cmd.network != "default" && cmd.network != "none" &&
      cmd.network != "host") {
    return Fail(
        file, node,
        "RUN: network mode \"" + cmd.network + "\" not supported (want default, none or host)");
  }
  if (!cmd.security.empty() && cmd.security != "sandbox" && cmd.security != "insecure") {
    return Fail(
        file, node,
        "RUN: security mode \"" + cmd.security + "\" not supported (want sandbox or insecure)");
  }
  if (!node.json) {
    for (const parser::Heredoc& h : node.heredocs) {
      cmd.files.push_back(ShellFile{h.name, h.content, h.chomp, h.expand, h.file_descriptor});
    }
  }
  inst.command = std::move(cmd);
  return inst;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  // Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ with units ns us µs ms s m h.
  std::string orig(text);
  if (text.empty()) {
    return Error::InvalidArgument("invalid duration \"\"");
  }
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") {
    return int64_t{0};
  }
  if (text.empty()) {
    return Error::InvalidArgument("invalid duration \"" + orig + "\"");
  }
  long double total = 0;
  while (!text.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      value = value * 10 + (text[i] - '0');
      ++i;
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
        value += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) {
      return Error::InvalidArgument("invalid duration \"" + orig + "\"");
    }
    size_t unit_start = i;
    while (i < text.size() && text[i] != '.' &&
           std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    long double mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1e3L;
    } else if (unit == "ms") {
      mult = 1e6L;
    } else if (unit == "s") {
      mult = 1e9L;
    } else if (unit == "m") {
      mult = 60e9L;
    } else if (unit == "h") {
      mult = 3600e9L;
    } else if (unit.empty()) {
      return Error::InvalidArgument("missing unit in duration \"" + orig + "\"");
    } else {
      return Error::InvalidArgument("unknown unit \"" + std::string(unit) + "\" in duration \"" +
                                    orig + "\"");
    }
    total += value * mult;
    if (total > 9.2e18L) {
      return Error::InvalidArgument("invalid duration \"" + orig + "\"");
    }
    text.remove_prefix(i);
  }
  auto ns = static_cast<int64_t>(total);
  return negative ? -ns : ns;
}

Result<Instruction> ParseInstruction(const Node& node, std::string_view file) {
  Instruction inst;
  inst.keyword = Upper(node.keyword);
  inst.original = node.original;
  inst.location = {node.start_line, node.end_line};
  const std::string& kw = node.keyword;
  auto exactly_one = [&]() -> Result<std::string> {
    if (node.args.size() != 1) {
      return Fail(file, node, inst.keyword + " requires exactly one argument");
    }
    return node.args[0];
  };
  auto at_least_one = [&]() -> Result<> {
    if (node.args.empty()) {
      return Fail(file, node, inst.keyword + " requires at least one argument");
    }
    return {};
  };

  if (kw == "from") {
    Flags flags;
    flags.Add("platform", FlagType::kString);
    BERTH_TRY(ParseFlags(file, node, flags));
    FromCmd cmd;
    cmd.platform = flags.String("platform");
    if (node.args.size() == 1) {
      cmd.base_name = node.args[0];
    } else if (node.args.size() == 3 && EqualsIgnoreCase(node.args[1], "as")) {
      cmd.base_name = node.args[0];
      cmd.stage_name = ToLower(node.args[2]);
      const std::string& n = cmd.stage_name;
      bool valid = !n.empty() && n[0] >= 'a' && n[0] <= 'z';
      for (char c : n) {
        valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '_' || c == '.');
      }
      if (!valid) {
        return Fail(file, node,
                    "invalid name for build stage: \"" + node.args[2] +
                        "\", name can't start with a number or contain symbols");
      }
    } else {
      return Fail(file, node, "FROM requires either one or three arguments");
    }
    inst.command = std::move(cmd);
    return inst;
  }
  if (kw == "run") {
    return ParseRunLike(file, node, std::move(inst));
  }
  if (kw == "cmd" || kw == "entrypoint") {
    BERTH_TRY(NoFlags(file, node));
    if (kw == "cmd") {
      inst.command = CmdCmd{node.args, !node.json};
    } else {
      inst.command = EntrypointCmd{node.args, !node.json};
    }
    return inst;
  }
  if (kw == "shell") {
    BERTH_TRY(NoFlags(file, node));
    BERTH_TRY(at_least_one());
    if (!node.json) {
      return Fail(file, node, "SHELL requires the arguments to be in JSON form");
    }
    inst.command = ShellCmd{node.args};
    return inst;
  }
  if (kw == "env" || kw == "label") {
    BERTH_TRY(NoFlags(file, node));
    BERTH_TRY(at_least_one());
    std::vector<KeyValue> kvs;
    for (size_t i = 0; i + 1 < node.args.size(); i += 3) {
      KeyValue kv{node.args[i], node.args[i + 1],
                  i + 2 < node.args.size() && node.args[i + 2].empty()};
      if (kv.key.empty()) {
        return Fail(file, node, inst.keyword + " names can not be blank");
      }
      kvs.push_back(std::move(kv));
    }
    if (kvs.empty()) {
      return Fail(file, node, inst.keyword + " requires at least one argument");
    }
    if (kw == "env") {
      inst.command = EnvCmd{std::move(kvs)};
    } else {
      inst.command = LabelCmd{std::move(kvs)};
    }
    return inst;
  }
  if (kw == "arg") {
    BERTH_TRY(NoFlags(file, node));
    if (node.args.empty()) {
      return Fail(file, node, "ARG requires at least one argument");
    }
    ArgCmd cmd;
    for (const std::string& word : node.args) {
      bool found = false;
      auto [key, value] = SplitOnce(word, '=', &found);
      if (key.empty()) {
        return Fail(file, node, "ARG names can not be blank");
      }
      cmd.args.push_back(ArgSpec{key, found ? std::optional<std::string>(value) : std::nullopt});
    }
    inst.command = std::move(cmd);
    return inst;
  }
  if (kw == "maintainer") {
    BERTH_TRY(NoFlags(file, node));
    inst.command = MaintainerCmd{BERTH_TRY(exactly_one())};
    return inst;
  }
  if (kw == "expose") {
    BERTH_TRY(NoFlags(file, node));
    BERTH_TRY(at_least_one());
    inst.command = ExposeCmd{node.args};
    return inst;
  }
  if (kw == "volume") {
    BERTH_TRY(NoFlags(file, node));
    BERTH_TRY(at_least_one());
    for (const std::string& v : node.args) {
      if (Trim(v).empty()) {
        return Fail(file, node, "VOLUME specified can not be an empty string");
      }
    }
    inst.command = VolumeCmd{node.args};
    return inst;
  }
  if (kw == "user") {
    BERTH_TRY(NoFlags(file, node));
    inst.command = UserCmd{BERTH_TRY(exactly_one())};
    return inst;
  }
  if (kw == "workdir") {
    BERTH_TRY(NoFlags(file, node));
    inst.command = WorkdirCmd{BERTH_TRY(exactly_one())};
    return inst;
  }
  if (kw == "stopsignal") {
    BERTH_TRY(NoFlags(file, node));
    inst.command = StopSignalCmd{BERTH_TRY(exactly_one())};
    return inst;
  }
  if (kw == "onbuild") {
    BERTH_TRY(NoFlags(file, node));
    if (node.children.empty()) {
      return Fail(file, node, "ONBUILD requires at least one argument");
    }
    const Node& trigger = node.children[0];
    if (trigger.keyword == "onbuild") {
      return Fail(file, node, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    }
    if (trigger.keyword == "from" || trigger.keyword == "maintainer") {
      return Fail(file, node, Upper(trigger.keyword) + " isn't allowed as an ONBUILD trigger");
    }
    // The trigger must itself be a valid instruction.
    BERTH_TRY(ParseInstruction(trigger, file));
    std::string_view original = Trim(node.original);
    std::string_view expression = original.size() > 7 ? Trim(original.substr(7)) : "";
    inst.command = OnbuildCmd{std::string(expression)};
    return inst;
  }
  if (kw == "healthcheck") {
    Flags flags;
    flags.Add("interval", FlagType::kString);
    flags.Add("timeout", FlagType::kString);
    flags.Add("start-period", FlagType::kString);
    flags.Add("start-interval", FlagType::kString);
    flags.Add("retries", FlagType::kString);
    BERTH_TRY(ParseFlags(file, node, flags));
    BERTH_TRY(at_least_one());
    HealthcheckCmd cmd;
    std::string type = Upper(node.args[0]);
    if (type == "NONE") {
      if (node.args.size() != 1) {
        return Fail(file, node, "HEALTHCHECK NONE takes no arguments");
      }
      cmd.test = {"NONE"};
    } else if (type == "CMD") {
      if (node.args.size() < 2) {
        return Fail(file, node, "Missing command after HEALTHCHECK CMD");
      }
      if (node.json) {
        cmd.test = {"CMD"};
        cmd.test.insert(cmd.test.end(), node.args.begin() + 1, node.args.end());
      } else {
        cmd.test = {"CMD-SHELL", node.args[1]};
      }
      cmd.interval = BERTH_TRY(ParseOptDuration(file, node, flags, "interval"));
      cmd.timeout = BERTH_TRY(ParseOptDuration(file, node, flags, "timeout"));
      cmd.start_period = BERTH_TRY(ParseOptDuration(file, node, flags, "start-period"));
      cmd.start_interval = BERTH_TRY(ParseOptDuration(file, node, flags, "start-interval"));
      if (std::string r = flags.String("retries"); !r.empty()) {
        char* end = nullptr;
        long v = std::strtol(r.c_str(), &end, 10);
        if (end == r.c_str() || *end != '\0' || v > 1000000000L) {
          return Fail(file, node, "HEALTHCHECK: invalid --retries value \"" + r + "\"");
        }
        if (v < 0) {
          return Fail(file, node, "--retries cannot be negative (" + r + ")");
        }
        cmd.retries = static_cast<int>(v);
      }
    } else {
      return Fail(file, node, "Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
    }
    inst.command = std::move(cmd);
    return inst;
  }
  if (kw == "copy" || kw == "add") {
    return ParseCopy(file, node, kw == "add", std::move(inst));
  }
  return Fail(file, node, "unknown instruction: " + OriginalKeyword(node));
}

Result<Dockerfile> Parse(const parser::Ast& ast, std::string_view file) {
  Dockerfile df;
  std::set<std::string> names;
  for (const Node& node : ast.children) {
    Instruction inst = BERTH_TRY(ParseInstruction(node, file));
    if (auto* from = std::get_if<FromCmd>(&inst.command)) {
      Stage stage;
      stage.name = from->stage_name;
      if (!stage.name.empty()) {
        if (!names.insert(stage.name).second) {
          return Fail(file, node, "duplicate stage name \"" + stage.name + "\"");
        }
        stage.original_name = node.args.size() == 3 ? node.args[2] : stage.name;
      }
      stage.from = *from;
      stage.location = inst.location;
      df.stages.push_back(std::move(stage));
      continue;
    }
    if (df.stages.empty()) {
      if (auto* arg = std::get_if<ArgCmd>(&inst.command)) {
        df.meta_args.push_back(*arg);
        df.meta_arg_locations.push_back(inst.location);
        continue;
      }
      return Fail(file, node,
                  "no build stage in current context: " + inst.keyword +
                      " must come after a FROM instruction");
    }
    df.stages.back().commands.push_back(std::move(inst));
  }
  if (df.stages.empty()) {
    return Error::InvalidArgument(std::string(file) + ": the Dockerfile has no FROM instruction");
  }
  return df;
}

}  // namespace berth::frontend::dockerfile::instructions
