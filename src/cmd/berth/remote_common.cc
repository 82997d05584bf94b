#include "cmd/berth/remote_common.h"

#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace berth::cmd {
namespace {

using json = nlohmann::json;

std::string CsvField(const std::string& s) {
  bool plain = s.find_first_of(",\"\r\n") == std::string::npos &&
               (s.empty() || (s.front() != ' ' && s.back() != ' '));
  if (plain) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  return out + "\"";
}

void PrintCsvRow(const std::vector<std::string>& row) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) {
      line += ',';
    }
    line += CsvField(row[i]);
  }
  std::printf("%s\n", line.c_str());
}

void PrintTableRows(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    widths[i] = header[i].size();
    for (const auto& row : rows) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 3, ' ');
      }
    }
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const auto& row : rows) {
    print(row);
  }
}

// `n` in the largest unit of `units` (each `step` times the last) that keeps it at least 1,
// with three significant digits.
std::string Scaled(int64_t n, double step, const char* const (&units)[7]) {
  auto v = static_cast<double>(n);
  size_t unit = 0;
  while (v >= step && unit + 1 < std::size(units)) {
    v /= step;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g%s", v, units[unit]);
  return buf;
}

}  // namespace

Format ChooseFormat(const std::string& output) {
  if (output == "json") {
    return Format::kJson;
  }
  if (output == "csv") {
    return Format::kCsv;
  }
  if (output == "table") {
    return Format::kTable;
  }
  return isatty(STDOUT_FILENO) != 0 ? Format::kTable : Format::kCsv;
}

// Marks a usage error (exit code 2) and returns it.
Error Usage(int& exit_code, Error error) {
  exit_code = kRemoteExitUsage;
  return error;
}

// A client for the server and token the flags, the environment or the login name. A host or
// project that is missing or malformed is a usage error.
Result<std::unique_ptr<client::Client>> Connect(const RemoteFlags& flags, int& exit_code) {
  Result<client::Server> server = client::ResolveServer(flags.server, client::ProcessEnv());
  if (!server.ok()) {
    ErrorCode code = server.error().code();
    if (code == ErrorCode::kInvalidArgument || code == ErrorCode::kFailedPrecondition) {
      return Usage(exit_code, std::move(server).error());
    }
    return std::move(server).error();
  }
  return client::Client::Create(server->url, server->token);
}

// ---- output

// Prints `rows` as `format`; `single`: a get or create, whose JSON is the object itself rather
// than an array of objects.
void Print(Format format, const Rows& rows, bool single) {
  switch (format) {
    case Format::kJson: {
      json out = json::array();
      for (const std::string& text : rows.objects) {
        out.push_back(json::parse(text, nullptr, false));
      }
      if (single && out.size() == 1) {
        out = out[0];
      }
      std::printf("%s\n", out.dump(2, ' ', false, json::error_handler_t::replace).c_str());
      return;
    }
    case Format::kCsv:
      PrintCsvRow(rows.csv_header);
      for (const auto& row : rows.csv) {
        PrintCsvRow(row);
      }
      return;
    case Format::kTable:
      PrintTableRows(rows.table_header, rows.table);
      return;
  }
}

// "2026-11-27T08:41:03.123456789Z" as "2026-11-27 08:41:03" (UTC); "-" for none.
std::string HumanTime(const std::string& rfc3339) {
  if (rfc3339.size() < 19) {
    return rfc3339.empty() ? "-" : rfc3339;
  }
  std::string out = rfc3339.substr(0, 19);
  out[10] = ' ';
  return out;
}

std::string HumanBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return bytes <= 0 ? "-" : Scaled(bytes, 1024, kUnits);
}

std::string HumanSize(int64_t size) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  return Scaled(size, 1000, kUnits);
}

std::string HumanDuration(std::optional<double> seconds) {
  if (!seconds) {
    return "-";
  }
  char buf[32];
  double s = *seconds;
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    auto whole = static_cast<int64_t>(s);
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(whole / 60),
                  static_cast<long long>(whole % 60));
  } else {
    auto whole = static_cast<int64_t>(s);
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(whole / 3600),
                  static_cast<long long>((whole % 3600) / 60));
  }
  return buf;
}

std::string Or(const std::string& s, const char* fallback) {
  return s.empty() ? fallback : s;
}

void AddServerFlags(CLI::App* cmd, RemoteFlags& flags) {
  cmd->add_option("--host", flags.server.host,
                  "berthd address: http(s)://HOST:PORT or HOST:PORT (default: $BERTH_HOST, "
                  "else the login)");
  cmd->add_option("--token", flags.server.token,
                  "API token (default: $BERTH_TOKEN, else the login's)");
}

void AddOutputFlag(CLI::App* cmd, RemoteFlags& flags) {
  cmd->add_option("--output", flags.output,
                  "Output format: table, json or csv (default: table on a terminal, else csv)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
}

}  // namespace berth::cmd
