#include "frontend/bake/hcl/csv.h"

namespace berth::frontend::bake::hcl::internal {

namespace {

Error ParseError(int line, int column, std::string_view what) {
  return Error::InvalidArgument("parse error on line " + std::to_string(line) + ", column " +
                                std::to_string(column) + ": " + std::string(what));
}

}  // namespace

Result<std::vector<std::vector<std::string>>> ReadCsv(std::string_view text,
                                                      bool same_field_count) {
  std::vector<std::vector<std::string>> records;
  size_t pos = 0;
  int line = 1;
  while (pos < text.size()) {
    // Skip empty lines, as Go does.
    if (text[pos] == '\n') {
      ++pos;
      ++line;
      continue;
    }
    if (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
      pos += 2;
      ++line;
      continue;
    }
    const int record_line = line;
    std::vector<std::string> fields;
    size_t line_start = pos;
    while (true) {
      std::string field;
      if (pos < text.size() && text[pos] == '"') {
        ++pos;
        bool closed = false;
        while (pos < text.size()) {
          const char c = text[pos];
          if (c == '"') {
            if (pos + 1 < text.size() && text[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            closed = true;
            break;
          }
          if (c == '\n') {
            ++line;
            line_start = pos + 1;
          }
          if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
            ++pos;
            continue;
          }
          field.push_back(c);
          ++pos;
        }
        if (!closed) {
          return ParseError(record_line, static_cast<int>(pos - line_start) + 1,
                            "extraneous or missing \" in quoted-field");
        }
        if (pos < text.size() && text[pos] != ',' && text[pos] != '\n' &&
            !(text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n')) {
          return ParseError(line, static_cast<int>(pos - line_start) + 1,
                            "extraneous or missing \" in quoted-field");
        }
      } else {
        while (pos < text.size() && text[pos] != ',' && text[pos] != '\n') {
          if (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
            break;
          }
          if (text[pos] == '"') {
            return ParseError(line, static_cast<int>(pos - line_start) + 1,
                              "bare \" in non-quoted-field");
          }
          field.push_back(text[pos]);
          ++pos;
        }
      }
      fields.push_back(std::move(field));
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      break;
    }
    if (pos < text.size() && text[pos] == '\r') {
      ++pos;
    }
    if (pos < text.size() && text[pos] == '\n') {
      ++pos;
      ++line;
    }
    if (same_field_count && !records.empty() && fields.size() != records.front().size()) {
      return Error::InvalidArgument("record on line " + std::to_string(record_line) +
                                    ": wrong number of fields");
    }
    records.push_back(std::move(fields));
  }
  return records;
}

}  // namespace berth::frontend::bake::hcl::internal
