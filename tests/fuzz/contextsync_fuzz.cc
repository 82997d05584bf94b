// libFuzzer target for the two parsers of contextsync that berthd runs on what a client sends:
// the manifest JSON (ParseManifestJson) and the upload bundle (ReadBundle). Untrusted input.
//
// Every input is tried as both:
//   1. A manifest. When it parses, it must validate, name only clean relative paths, and
//      survive ManifestToJson -> ParseManifestJson unchanged.
//   2. A bundle answering a fixed manifest of three files (plain or zstd-compressed; seeds start
//      with the plain magic "BCTXSYN1"). It must fail with DataLoss or succeed with exactly the
//      three files; either way every blob in the store must hash to its name and no ingest may
//      be left in the store's tmp/ directory.
// Any broken invariant traps.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "base/io.h"
#include "contextsync/contextsync.h"

namespace {

namespace cs = berth::contextsync;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

cs::Entry File(std::string path, std::string_view content) {
  cs::Entry e;
  e.path = std::move(path);
  e.mode = 0644;
  e.size = content.size();
  e.digest = berth::digest::FromBytes(content);
  return e;
}

struct Fixture {
  std::string root;
  std::unique_ptr<cs::FileStore> store;
  cs::Manifest manifest;
  std::vector<berth::digest::Digest> expected;

  Fixture() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/berth-contextsync-fuzz-XXXXXX";
    Check(::mkdtemp(templ.data()) != nullptr);
    root = templ;
    auto opened = cs::FileStore::Open(root + "/store");
    Check(opened.ok());
    store = std::move(opened).value();
    manifest.entries = {File("a", "alpha"), File("b", "bravo!"), File("c", "charlie")};
    expected = cs::FileDigests(manifest);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  // Checks the store and empties it for the next input.
  void CheckAndReset() {
    Check(std::filesystem::is_empty(root + "/store/tmp"));
    for (const auto& e : std::filesystem::directory_iterator(root + "/store/blobs")) {
      std::ifstream in(e.path(), std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      Check(berth::digest::FromBytes(content).hex() == e.path().filename().string());
      std::filesystem::remove(e.path());
    }
  }
};

void FuzzManifest(std::string_view input) {
  berth::Result<cs::Manifest> m = cs::ParseManifestJson(input);
  if (!m.ok()) {
    Check(m.error().code() == berth::ErrorCode::kInvalidArgument);
    return;
  }
  Check(cs::ValidateManifest(*m).ok());
  for (const cs::Entry& e : m->entries) {
    // Independently of ValidatePath: nothing absolute, nothing that climbs, no NUL.
    const std::string p = "/" + e.path + "/";
    Check(!e.path.empty() && e.path.front() != '/' && p.find("/../") == std::string::npos &&
          p.find("/./") == std::string::npos && p.find("//") == std::string::npos &&
          e.path.find('\0') == std::string::npos);
  }
  berth::Result<cs::Manifest> again = cs::ParseManifestJson(cs::ManifestToJson(*m));
  Check(again.ok() && *again == *m);
}

void FuzzBundle(std::string_view input) {
  static Fixture fixture;
  berth::ViewReader in(input);
  berth::Result<cs::BundleStats> r = cs::ReadBundle(
      berth::Context::Background(), in, *fixture.store, fixture.manifest, fixture.expected);
  if (r.ok()) {
    Check(r->files == 3 && r->bytes == 18);
    for (const berth::digest::Digest& d : fixture.expected) {
      Check(fixture.store->Has(d));
    }
  } else {
    Check(r.error().code() == berth::ErrorCode::kDataLoss);
  }
  fixture.CheckAndReset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzManifest(input);
  FuzzBundle(input);
  return 0;
}
