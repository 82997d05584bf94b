// contextsync: incremental transfer of a build context from the berth CLI to berthd, without
// HTTP (the transport carries the three messages below as it likes).
//
// The protocol, for one remote build of one project:
//
//   1. Manifest (client -> server). The client walks the context with .dockerignore applied
//      (Scan, scan.h) and sends the Manifest as JSON (ManifestToJson, manifest.h): every path
//      with its type, mode, and for files the size and SHA-256. A stat cache keeps a re-scan of
//      an unchanged context from reading any file.
//   2. Missing list (server -> client). The server parses and validates the manifest
//      (ParseManifestJson) and asks the project's FileStore (file_store.h) which contents it
//      lacks (FileStore::Missing): a list of digests. An unchanged context yields an empty list.
//   3. Bundle (client -> server). The client sends exactly those contents as one zstd stream
//      (WriteBundle, bundle.h); the server ingests them (ReadBundle), verifying every digest and
//      size against what it asked for. Nothing unrequested, oversized or corrupt gets in, and a
//      cut-off upload leaves no partial file. With an empty missing list this step can be
//      skipped, or an empty bundle sent.
//   4. Materialize (server). FileStore::Materialize writes the manifest's tree into a fresh
//      directory, hardlinking the stored contents, and the build runs on that directory as a
//      local context. The directory is the build's input: read it, never write it.
//
// Changing one file of a 10,000-file context therefore costs a warm scan, a manifest, and one
// file on the wire. Not transferred: owners (BuildKit resets them to 0:0), mtimes (a
// materialized file has the time its content entered the store), and hardlinks between context
// files, which arrive as separate files.
#pragma once

#include "contextsync/bundle.h"      // IWYU pragma: export
#include "contextsync/file_store.h"  // IWYU pragma: export
#include "contextsync/manifest.h"    // IWYU pragma: export
#include "contextsync/scan.h"        // IWYU pragma: export
