// `berth build` against berthd: sync the context (only what the project's builder lacks), start
// the build, render its progress as a local build does, and bring client-side outputs back
// (service/remote.h has the protocol).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "engine/engine.h"

namespace berth::cmd {

struct RemoteTarget {
  std::string host;  // the base URL (client::BaseUrl): "http://127.0.0.1:8088", "https://b.example"
  std::string token;
  std::string project;  // project id
  // --save: keep the image in berthd's registry as <project>:<build-id> and these tags.
  bool save = false;
  std::vector<std::string> save_tags;
  // The builder keeps the image even when no output makes one (a bake target another reads
  // through a target: context); the result then has its manifest digest.
  bool export_image = false;
};

struct RemoteStats {
  std::string build_id;
  uint64_t files_sent = 0;
  uint64_t wire_bytes = 0;
  // --save: where berthd keeps the image: "<registry host>/<project>:<tag>" per tag (the build
  // id first), and its manifest digest.
  std::vector<std::string> saved;
  std::string saved_digest;
};

// Runs `options` (a local build's options: context dir, outputs with local destinations) on
// `target`. Progress goes to options.renderer (or is drawn on options.progress). Cancelling
// `ctx` (Ctrl-C) cancels the build on the server.
Result<engine::BuildResult> RemoteBuild(const Context& ctx, const RemoteTarget& target,
                                        const engine::BuildOptions& options,
                                        RemoteStats* stats = nullptr);

// The exit code of a build whose server and token could not be resolved: 2 (a usage error) for
// a host, login file or project that is missing or malformed (InvalidArgument,
// FailedPrecondition), else 1 (no token, an OIDC ID token refused, berthd unreachable).
int ResolveExitCode(const Error& error);

}  // namespace berth::cmd
