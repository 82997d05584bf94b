// Remote builds over HTTP: the context sync and the build stream (contextsync/contextsync.h has
// the sync protocol; this is its transport and the build around it).
//
//   POST /api/v1/projects/:id/context/missing   {"manifest": <manifest JSON>}
//        -> {"manifest_id": "<hex>", "missing": ["sha256:...", ...]}
//        The server keeps the manifest (by the digest of its JSON) and answers with the file
//        contents the project's file store lacks.
//   PUT  /api/v1/projects/:id/context/:manifest_id   <bundle: zstd stream of the missing files>
//        -> {"files": n, "bytes": uncompressed, "wire_bytes": what travelled}
//   POST /api/v1/projects/:id/builds   {"options": <engine options JSON with secrets>,
//                                       "manifest_id": "<hex>",
//                                       "contexts": {"NAME": "<hex>", ...}}
//        "contexts" names the manifests of named local contexts (--build-context NAME=DIR),
//        synced like the main one; options may name only docker-image:// contexts.
//        "export_image": true keeps an image (its digest in the result) even when no output
//        makes one (a bake target another target reads); "save": true keeps the image in
//        berthd's registry once built, as repository
//        "<project-id>", tag "<build-id>" and every tag of "save_tags": [...]; the result then
//        has "saved": {"repository", "digest", "tags"}.
//        -> newline-delimited JSON, streamed while the build runs:
//             {"build": {...}}              the build record, once, first
//             {"step": {...}}               a progress update (engine::StepUpdate's JSON)
//             {"ping": true}                every few seconds, so a vanished client is noticed
//             {"result": {...}}             last, on success: digests, tags, pushed names, saved,
//             and
//                                           "outputs": [{"index","type","url"}] to download
//             {"error": {"code","message"}} last, on failure
//        The client going away cancels the build (containers killed, recorded as canceled).
//   GET  /api/v1/builds/:id/outputs/:n   the n-th client-side output as a tar (type=local and
//        oci tar=false arrive as tars the client unpacks); removed once fetched.
//   --ssh: the build body names agent ids ("ssh": ["default"]); each gets a socket in the build
//   (service/ssh_bridge.h), and the client relays each connection a RUN makes to its own agent:
//   GET  /api/v1/builds/:id/ssh-accept   the next connection, {"conn": N, "id": "default"}, or
//                                        204 after a while; 412 once the build has ended
//   GET  /api/v1/builds/:id/ssh/:conn    the RUN's bytes for the agent, streamed until it closes
//   PUT  /api/v1/builds/:id/ssh/:conn    the agent's bytes for the RUN, streamed
//
// Outputs that write on the client (local, tar, oci, docker with a dest) are written on the
// server under the build's output directory and fetched; image outputs stay on the builder
// (push=true pushes from it) — the client asks for an OCI archive instead to load an image into
// its own store.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "httpserver/server.h"
#include "metastore/store.h"
#include "service/builder.h"

namespace berth::service {

// Saves a built image in berthd's registry (registryserver::Registry::Save): the image whose
// manifest is `digest` (in the builder's content store) into `repository` under `tags`.
using SaveImageFn = std::function<Result<>(const Context& ctx, const std::string& project_id,
                                           const std::string& repository, const std::string& digest,
                                           const std::vector<std::string>& tags)>;

struct RemoteOptions {
  std::string root;  // berthd's --root: projects/<id>/{files,manifests,contexts,outputs}
  // For "save": the registry's Save; builds asking to be saved fail when empty.
  SaveImageFn save;
};

void RegisterRemoteBuilds(httpserver::Server& server, metastore::Store& store, Builder& builder,
                          const RemoteOptions& options);

}  // namespace berth::service
