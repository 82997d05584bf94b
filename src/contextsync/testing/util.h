// Helpers shared by the contextsync tests: one-call wrappers that fail the test on error.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "archive/testing/tree.h"
#include "base/io.h"
#include "contextsync/contextsync.h"

namespace berth::contextsync::testing {

using archive::testing::TempDir;

// Unwraps a Result in a test: fails with the error's text.
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.error().ToString();
    std::abort();
  }
  return std::move(r).value();
}
inline void Must(Result<> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.error().ToString();
    std::abort();
  }
}

// The tree below `dir` as archive::testing::DescribeTree lists it, without what a sync does not
// carry (owners, mtimes, xattrs).
inline std::string Describe(const std::string& dir) {
  archive::testing::DescribeOptions o;
  o.mtimes = false;
  o.owners = false;
  o.xattrs = false;
  return archive::testing::DescribeTree(dir, o);
}

// The paths of a manifest, in order.
inline std::vector<std::string> Paths(const Manifest& m) {
  std::vector<std::string> out;
  for (const Entry& e : m.entries) {
    out.push_back(e.path);
  }
  return out;
}

// One full sync of `dir` into `store`: scan, missing, bundle through memory, read. Returns the
// manifest; `sent` receives the bundle's stats as the server saw them.
inline Manifest Sync(const std::string& dir, const std::vector<std::string>& excludes,
                     const ScanOptions& scan_options, FileStore& store, BundleStats* sent,
                     ScanStats* scan_stats = nullptr) {
  Context ctx = Context::Background();
  Manifest m = Must(Scan(ctx, dir, excludes, scan_options, scan_stats));
  // Through the wire format, as berthd gets it.
  Manifest received = Must(ParseManifestJson(ManifestToJson(m)));
  std::vector<digest::Digest> missing = Must(store.Missing(received));
  StringWriter wire;
  Must(WriteBundle(ctx, dir, m, missing, wire));
  StringReader in(wire.Take());
  *sent = Must(ReadBundle(ctx, in, store, received, missing));
  return received;
}

}  // namespace berth::contextsync::testing
