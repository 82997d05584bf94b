// What `berth build` and `berth bake` share: parsing build flags (or bake attributes, which
// take the same strings) into engine::BuildOptions, and writing buildx's metadata file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::cmd {

// --secret id=ID[,src=FILE|,env=VAR][,type=file|env] -> (id, value). A bare id=ID reads the
// environment variable ID, as buildx does.
Result<std::pair<std::string, std::string>> ParseSecret(const std::string& spec);

// --ssh ID[=SOCKET] -> (id, socket path); "default" alone is $SSH_AUTH_SOCK.
Result<std::pair<std::string, std::string>> ParseSsh(const std::string& spec);

// --ulimit NAME=SOFT[:HARD]; -1 or "unlimited" is no limit.
Result<engine::Ulimit> ParseUlimit(const std::string& spec);

// --annotation [TYPE[platform]:]KEY=VALUE, each a manifest annotation (a single-platform build
// has only a manifest to annotate).
Result<std::map<std::string, std::string>> ParseAnnotations(const std::vector<std::string>& specs);

// --output values with --push and --load folded in, as buildx does: --push sets push=true on the
// image output (or adds one), --load adds the local store. An oci or tar output without dest
// writes to stdout, refused on a terminal. At most one output writes to stdout.
Result<std::vector<engine::Output>> ParseOutputs(const std::vector<std::string>& specs, bool push,
                                                 bool load);

// The .dockerignore patterns of a build: <Dockerfile>.dockerignore beside the Dockerfile,
// else the context's .dockerignore; none when neither exists.
Result<std::vector<std::string>> ReadIgnorePatterns(const std::string& dockerfile,
                                                    const std::string& context);

// A git build context ("https://host/repo.git#ref:subdir", "git@host:repo.git", ...): whether
// `context` names one rather than a local path (a path that exists is always local).
// InvalidArgument for a malformed git reference.
Result<bool> IsGitContext(const std::string& context);
// Checks the git context out (its ref's commit; only its subdir, if one is named) into a new
// directory under `root`/tmp and returns that directory; the caller removes it.
Result<std::string> CheckoutGitContext(const std::string& root, const std::string& context);

// What a build on berthd adds to its metadata: "berth.build": {"buildID", "projectID",
// "saved": [names it was saved under (--save)]}.
struct RemoteBuildInfo {
  std::string build_id;
  std::string project_id;
  std::vector<std::string> saved;
};

// buildx's --metadata-file document of one build (containerimage.digest, image.name, ...), with
// "berth.build" for a build on berthd (`remote` not null).
std::string MetadataJson(const engine::BuildResult& result,
                         const RemoteBuildInfo* remote = nullptr);
// `bake --metadata-file`: one such object per target name (with "berth.build" for the targets
// in `remote`, when not null).
std::string BakeMetadataJson(const std::map<std::string, engine::BuildResult>& results,
                             const std::map<std::string, RemoteBuildInfo>* remote = nullptr);

}  // namespace berth::cmd
