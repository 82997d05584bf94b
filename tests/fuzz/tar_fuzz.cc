// Fuzzes the layer applier with arbitrary bytes (raw, gzip or zstd tars, or garbage). Each input
// is applied twice, once with the default rules and once following symlinks inside the target,
// into fresh directories beside "outside/secret". Any input must give an applied layer or an
// error, never a crash, and must never change anything outside the target: afterwards the
// fuzzer compares a listing of everything but the targets (types, modes, owners, sizes,
// contents, mtimes, xattrs) with the one taken before, and aborts on any difference. The work
// directory is $TAR_FUZZ_DIR, else /dev/shm, else /tmp.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "archive/apply.h"
#include "base/io.h"

namespace {

std::string ReadAllOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A listing of `dir` and everything below it, skipping the subtrees named in `skip`.
void List(const std::string& dir, const std::string& rel, const std::vector<std::string>& skip,
          std::string& out) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    out += rel + " missing\n";
    return;
  }
  char line[512];
  std::snprintf(line, sizeof(line), " %o %u:%u %lld %lld.%09ld ", st.st_mode, st.st_uid, st.st_gid,
                static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
                st.st_mtim.tv_nsec);
  out += rel + line;
  char names[4096];
  ssize_t n = llistxattr(dir.c_str(), names, sizeof(names));
  if (n > 0) {
    out += std::string(names, static_cast<size_t>(n));
  }
  if (S_ISREG(st.st_mode)) {
    out += ReadAllOf(dir);
  }
  out += '\n';
  if (!S_ISDIR(st.st_mode)) {
    return;
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return;
  }
  std::vector<std::string> children;
  while (struct dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..") {
      children.push_back(name);
    }
  }
  closedir(d);
  std::sort(children.begin(), children.end());
  for (const std::string& name : children) {
    std::string child_rel = rel + "/" + name;
    if (std::find(skip.begin(), skip.end(), child_rel) == skip.end()) {
      List(dir + "/" + name, child_rel, skip, out);
    } else {
      out += child_rel + " (target)\n";
    }
  }
}

const std::string& Base() {
  // Never destroyed: the exit handler below still needs it.
  static const std::string* base = new std::string([] {
    // tmpfs if there is one: on the ext4 here every mkdir and rmdir costs a millisecond.
    const char* dir = std::getenv("TAR_FUZZ_DIR");  // NOLINT(concurrency-mt-unsafe)
    if (dir == nullptr) {
      dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    }
    std::string tmpl = std::string(dir) + "/berth-tar-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Base(), ec);
    });
    return tmpl;
  }());
  return *base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const std::string& base = Base();
  std::string work = base + "/work";
  std::error_code ec;
  fs::remove_all(work, ec);
  std::string targets[2] = {work + "/target", work + "/target-in-root"};
  if (mkdir(work.c_str(), 0755) != 0 || mkdir(targets[0].c_str(), 0755) != 0 ||
      mkdir(targets[1].c_str(), 0755) != 0 || mkdir((work + "/outside").c_str(), 0755) != 0) {
    std::perror("mkdir");
    std::abort();
  }
  {
    std::ofstream secret(work + "/outside/secret");
    secret << "secret";
  }
  std::vector<std::string> skip = {"/work/target", "/work/target-in-root"};
  std::string before;
  List(base, "", skip, before);

  std::string input(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < 2; ++i) {
    berth::archive::ApplyOptions options;
    options.follow_symlinks_in_root = i == 1;
    berth::StringReader reader(input);
    auto result =
        berth::archive::ApplyLayer(berth::Context::Background(), reader, targets[i], options);
    if (!result.ok()) {
      // Every failure is an error value with a message, never a silent success.
      if (result.error().ToString().empty()) {
        std::abort();
      }
    }
  }

  std::string after;
  List(base, "", skip, after);
  if (after != before) {
    std::fprintf(stderr,
                 "tar_fuzz: the layer changed files outside the target\nbefore:\n%s\n"
                 "after:\n%s\n",
                 before.c_str(), after.c_str());
    std::abort();
  }
  fs::remove_all(work, ec);
  return 0;
}
