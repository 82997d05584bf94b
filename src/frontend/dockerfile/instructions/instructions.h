// Typed Dockerfile instructions: the AST of parser/ turned into commands with validated flags.
//
// This is BuildKit's frontend/dockerfile/instructions: every instruction and every flag is
// checked here (unknown or duplicate flags, argument counts, forbidden ONBUILD triggers, heredoc
// placement), but words are not yet expanded: variables depend on the stage's ENV and ARG scope,
// which the converter (convert/) tracks. Errors read "Dockerfile:7: COPY: unknown flag: --frm".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::instructions {

struct Location {
  int start_line = 0;
  int end_line = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  bool legacy = false;  // `ENV key value` (no "=")
};

struct ArgSpec {
  std::string key;
  std::optional<std::string> value;  // default, unexpanded
};

// A heredoc used as a COPY/ADD source.
struct SourceContent {
  std::string path;  // the heredoc name; becomes the file name
  std::string data;
  bool expand = true;
};

// A heredoc attached to RUN.
struct ShellFile {
  std::string name;
  std::string data;
  bool chomp = false;
  bool expand = true;
  int file_descriptor = 0;
};

struct FromCmd {
  std::string base_name;   // unexpanded
  std::string stage_name;  // lower-cased; "" if no AS
  std::string platform;    // --platform, unexpanded
};

struct RunCmd {
  std::vector<std::string> cmd_line;
  bool prepend_shell = false;  // shell form
  std::vector<ShellFile> files;
  std::vector<std::string> mounts;  // raw --mount values, unexpanded
  std::string network;              // --network ("" = default)
  std::string security;             // --security ("" = sandbox)
};

struct CmdCmd {
  std::vector<std::string> cmd_line;
  bool prepend_shell = false;
};

struct EntrypointCmd {
  std::vector<std::string> cmd_line;
  bool prepend_shell = false;
};

struct ShellCmd {
  std::vector<std::string> shell;
};

struct EnvCmd {
  std::vector<KeyValue> env;
};

struct ArgCmd {
  std::vector<ArgSpec> args;
};

struct LabelCmd {
  std::vector<KeyValue> labels;
};

struct MaintainerCmd {
  std::string maintainer;
};

struct ExposeCmd {
  std::vector<std::string> ports;
};

struct VolumeCmd {
  std::vector<std::string> volumes;
};

struct UserCmd {
  std::string user;
};

struct WorkdirCmd {
  std::string path;
};

struct OnbuildCmd {
  std::string expression;  // the trigger instruction as written
};

struct StopSignalCmd {
  std::string signal;
};

struct HealthcheckCmd {
  // {"NONE"}, {"CMD", args...} or {"CMD-SHELL", command}.
  std::vector<std::string> test;
  // Durations in nanoseconds (0 = inherit the default); retries 0 = default.
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t start_interval = 0;
  int retries = 0;
};

// COPY and ADD share one shape; `add` tells them apart.
struct CopyCmd {
  bool add = false;
  std::vector<std::string> source_paths;  // unexpanded
  std::vector<SourceContent> source_contents;
  std::string dest;  // unexpanded
  std::string from;  // COPY --from
  std::string chown;
  std::string chmod;
  bool link = false;
  bool parents = false;
  std::vector<std::string> excludes;
  // ADD only
  std::string checksum;
  bool keep_git_dir = false;
  std::optional<bool> unpack;
};

using Command = std::variant<FromCmd, RunCmd, CmdCmd, EntrypointCmd, ShellCmd, EnvCmd, ArgCmd,
                             LabelCmd, MaintainerCmd, ExposeCmd, VolumeCmd, UserCmd, WorkdirCmd,
                             OnbuildCmd, StopSignalCmd, HealthcheckCmd, CopyCmd>;

struct Instruction {
  std::string keyword;   // upper-case: "COPY"
  std::string original;  // as written
  Location location;
  Command command;
};

// Parses one instruction node. `file_name` labels errors.
Result<Instruction> ParseInstruction(const parser::Node& node,
                                     std::string_view file_name = "Dockerfile");

struct Stage {
  std::string name;           // lower-cased AS name, "" if none
  std::string original_name;  // as written
  FromCmd from;
  Location location;                  // of the FROM line
  std::vector<Instruction> commands;  // after FROM
};

struct Dockerfile {
  std::vector<ArgCmd> meta_args;  // ARGs before the first FROM
  std::vector<Location> meta_arg_locations;
  std::vector<Stage> stages;
};

// Splits a parsed file into global ARGs and stages, validating every instruction.
// Errors: instructions other than ARG before the first FROM, invalid or duplicate stage names,
// and every ParseInstruction error.
Result<Dockerfile> Parse(const parser::Ast& ast, std::string_view file_name = "Dockerfile");

// Parses a Go duration ("1m30s", "500ms", "0") into nanoseconds.
Result<int64_t> ParseDuration(std::string_view text);

}  // namespace berth::frontend::dockerfile::instructions
