// What the commands that talk to berthd share (remote.cc, saved.cc, and the others): the
// server flags, connecting, the `--output table|json|csv` printing, human-readable values, and
// reporting errors the berth way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "client/client.h"
#include "client/settings.h"

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

inline constexpr int kRemoteExitFailed = 1;
inline constexpr int kRemoteExitUsage = 2;

// The flags every remote command shares. One instance serves all of them: only one command runs.
struct RemoteFlags {
  client::ServerFlags server;
  std::string output;  // table, json, csv; "" = table on a terminal, csv otherwise
};

enum class Format { kTable, kJson, kCsv };

// `output` ("" chooses: table on a terminal, csv otherwise).
Format ChooseFormat(const std::string& output);

// Marks a usage error (exit code 2) and returns it.
Error Usage(int& exit_code, Error error);

// A client for the server and token the flags, the environment or the login name. A host or
// project that is missing or malformed is a usage error.
Result<std::unique_ptr<client::Client>> Connect(const RemoteFlags& flags, int& exit_code);

// What a list or get command prints: a header and rows for table and csv (the table's values
// are for people, the csv's for programs), and the API's objects for json.
struct Rows {
  std::vector<std::string> csv_header;
  std::vector<std::string> table_header;
  std::vector<std::vector<std::string>> csv;
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> objects;  // JSON text of each object
};

// Prints `rows` as `format`; `single`: a get or create, whose JSON is the object itself rather
// than an array of objects.
void Print(Format format, const Rows& rows, bool single);

// "2026-11-27T08:41:03.123456789Z" as "2026-11-27 08:41:03" (UTC); "-" for none.
std::string HumanTime(const std::string& rfc3339);
// Binary units, three significant digits: "1GiB", "1.5MiB"; "-" for 0 (no cap).
std::string HumanBytes(int64_t bytes);
// Decimal units as docker prints image sizes (units.HumanSizeWithPrecision(size, 3)): "45.6MB".
std::string HumanSize(int64_t size);
// "12.3s", "4m05s", "2h03m"; "-" for none.
std::string HumanDuration(std::optional<double> seconds);
// `s`, or `fallback` when it is empty.
std::string Or(const std::string& s, const char* fallback);

// Runs `fn` and reports its error the berth way: one "error:" line, exit code 1 unless the
// command already chose 2.
template <typename F>
void Report(int& exit_code, F fn) {
  if (Result<> r = fn(); !r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
    if (exit_code == 0) {
      exit_code = kRemoteExitFailed;
    }
  }
}

// --host and --token.
void AddServerFlags(CLI::App* cmd, RemoteFlags& flags);
// --output table|json|csv.
void AddOutputFlag(CLI::App* cmd, RemoteFlags& flags);

}  // namespace berth::cmd
