// bake: the build definition model behind `berth bake` (issue 7), above the HCL evaluator
// (frontend/bake/hcl). It reads docker-bake.hcl, docker-bake.json and compose files the way
// `docker buildx bake` does and resolves them into targets ready to build:
//
//   files   DefaultFileNames() / ReadBakeFiles(): buildx's lookup order (compose.yaml,
//           compose.yml, docker-compose.yml, docker-compose.yaml, docker-bake.json,
//           docker-bake.hcl, docker-bake.override.json, docker-bake.override.hcl) or -f files.
//   Load    parses every file (compose files first, then HCL and JSON with shared variables),
//           expands matrices, evaluates attributes (with `target.x.attr` references), merges
//           same-named targets and groups with buildx's rules (Target::Merge) and parses the
//           --set overrides.
//   Resolve selects targets and groups by name or pattern (default: the `default` group),
//           applies `inherits` (ordered, recursive) and the overrides, adds linked targets of
//           `contexts = { x = "target:other" }`, and fills in context "." and dockerfile
//           "Dockerfile".
//   print   PrintJson (buildx's --print document), ListTargets / ListVariables (--list).
//
// Differences from buildx worth knowing: entries of cache-from, cache-to, output, secret, ssh
// and attest stay strings ("type=registry,ref=x") as buildx printed them before v0.18 (an
// object in HCL is written back as such a string); cycles in `inherits` and nested groups are
// errors, where buildx silently cuts them; `project_id` is a berth extension.
//
// Errors are InvalidArgument with "<file>:<line>:<col>: " where the problem has a place in a
// file. Nothing here touches the file system except ReadBakeFiles; everything is single-threaded
// and deterministic.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::frontend::bake {

using StringList = std::optional<std::vector<std::string>>;
// Values of args, labels and extra-hosts may be null (an HCL `null`): unset, skipped when merged.
using NullableMap = std::map<std::string, std::optional<std::string>>;

// One build target, with every attribute buildx has. An unset attribute is nullopt (or an empty
// map); the difference between unset and empty matters to Merge ("tags = []" replaces).
struct Target {
  std::string name;
  std::string description;
  std::vector<std::string> inherits;

  StringList annotations;
  StringList attest;
  std::optional<std::string> context;
  std::map<std::string, std::string> contexts;
  std::optional<std::string> dockerfile;
  std::optional<std::string> dockerfile_inline;
  NullableMap args;
  NullableMap labels;
  StringList tags;
  StringList cache_from;
  StringList cache_to;
  std::optional<std::string> target;
  StringList secret;
  StringList ssh;
  StringList platforms;
  StringList output;
  std::optional<bool> pull;
  std::optional<bool> no_cache;
  std::optional<std::string> network;
  StringList no_cache_filter;
  std::optional<std::string> shm_size;
  StringList ulimits;
  std::optional<std::string> call;
  StringList entitlements;
  NullableMap extra_hosts;
  // berth: the project a remote build of this target belongs to.
  std::optional<std::string> project_id;

  // Built only as the `target:` context of another target (output cacheonly).
  bool linked = false;
  // "<file>:<line>:<col>" of the first block or service defining the target ("" if none).
  std::string location;
  std::string inherits_location;

  // buildx's Target.Merge: `other`'s set attributes win. context, dockerfile,
  // dockerfile-inline, target, call, network, shm-size, pull, no-cache, project_id, tags,
  // platforms, cache-to and output replace; args, labels, extra-hosts and contexts merge by key
  // (null values skipped); annotations, no-cache-filter, ulimits, entitlements append; attest,
  // secret and ssh append replacing entries of the same type or id; cache-from appends;
  // inherits append; description replaces when non-empty.
  void Merge(const Target& other);
  // buildx's normalize: removes duplicate and empty list entries, empty contexts, and adds the
  // network.host entitlement for network "host".
  void Normalize();
};

struct Group {
  std::string name;
  std::string description;
  std::vector<std::string> targets;
  std::string location;
};

// The merged definition of all files: targets and groups in order of first definition.
struct Config {
  std::vector<Target> targets;
  std::vector<Group> groups;

  const Target* FindTarget(const std::string& name) const;
  const Group* FindGroup(const std::string& name) const;
};

// One --set override after parsing: for a target, key ("tags", "args.FOO") -> value(s).
struct Override {
  std::string value;
  std::vector<std::string> values;  // list-valued keys: every --set for the key, in order
  bool append = false;              // `+=`
};
using Overrides = std::map<std::string, std::map<std::string, Override>>;

struct VariableInfo {
  std::string name;
  std::string type;  // "" when untyped
  std::string description;
  std::optional<std::string> value;  // strings as they are, other values as JSON; null: nullopt
};

struct BakeFile {
  std::string name;  // as given (-f) or found; decides the syntax by its extension
  std::string data;
};

struct LoadOptions {
  // --set pattern.key[+]=value, in order.
  std::vector<std::string> overrides;
  // --var NAME=value overrides for variables (win over the environment).
  std::map<std::string, std::string> vars;
  // The environment variables seen by variables, compose interpolation and `--set
  // x.args.FOO` (without a value).
  std::map<std::string, std::string> env;
  // Where compose's `.env` is read from ("" = no .env file).
  std::string working_dir;
  // BAKE_CMD_CONTEXT and BAKE_LOCAL_PLATFORM.
  std::string cmd_context = ".";
  std::string local_platform = "linux/amd64";
  // Bounds on HCL evaluation (0: the hcl component's defaults, see hcl::EvalLimits): steps of
  // work, and bytes of any one string. The fuzz target lowers them.
  uint64_t max_eval_work = 0;
  size_t max_string_bytes = 0;
};

// The result of Load: the merged definition, the parsed overrides and the variables.
struct Resolved {
  Config config;
  Overrides overrides;
  std::vector<VariableInfo> variables;
  std::map<std::string, std::string> env;
};

// The targets and groups selected for a build (and for --print).
struct Selection {
  std::map<std::string, Target> targets;
  std::map<std::string, Group> groups;
};

// buildx's default file names, in lookup order.
const std::vector<std::string>& DefaultFileNames();

// Reads `names` (relative to `dir`); "-" is not supported here. With no names, reads those of
// DefaultFileNames() that exist in `dir` (NotFound when none does).
Result<std::vector<BakeFile>> ReadBakeFiles(const std::vector<std::string>& names,
                                            const std::string& dir);

Result<Resolved> Load(const std::vector<BakeFile>& files, const LoadOptions& options);

// Resolves `names` (targets, groups or path.Match patterns of them; none = "default").
// Errors: NotFound for unknown names (listing the available targets), InvalidArgument for
// cycles and bad overrides.
Result<Selection> Resolve(const Resolved& resolved, const std::vector<std::string>& names);
// The selected targets, sorted by name.
Result<std::vector<Target>> ResolveTargets(const Resolved& resolved,
                                           const std::vector<std::string>& names);

// buildx's --print document: {"group": {...}, "target": {...}}, indented by two spaces, keys
// sorted, `${` in args, labels, annotations, extra-hosts and dockerfile-inline escaped as `$${`,
// <, > and & escaped as Go's encoding/json does; ends with a newline.
std::string PrintJson(const Selection& selection);
// `--list targets`: TARGET / DESCRIPTION table of targets and groups (names starting with `_`
// hidden), aligned with tabs like Go's tabwriter.
std::string ListTargets(const Config& config);
// `--list variables`: VARIABLE / TYPE / VALUE / DESCRIPTION.
std::string ListVariables(const std::vector<VariableInfo>& variables);

}  // namespace berth::frontend::bake
