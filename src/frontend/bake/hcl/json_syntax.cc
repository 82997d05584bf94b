// A small JSON reader that keeps source positions (nlohmann's does not), then the mapping of
// JSON values onto bodies, blocks and expressions.
#include "frontend/bake/hcl/json_syntax.h"

#include <algorithm>
#include <set>
#include <vector>

#include "base/gotext.h"
#include "base/strings.h"

namespace berth::frontend::bake::hcl {

namespace {

struct JsonNode {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;                 // kString: decoded
  std::vector<JsonNode> elements;   // kArray
  std::vector<std::string> keys;    // kObject, in order
  std::vector<JsonNode> values;     // kObject, beside keys
  std::vector<size_t> key_offsets;  // kObject: each key's quote
  size_t start = 0;
  size_t end = 0;
};

class JsonReader {
 public:
  JsonReader(std::string_view src, std::string_view file_name, const ParseLimits& limits)
      : src_(src), file_(std::make_shared<const std::string>(file_name)), limits_(limits) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  Result<JsonNode> ReadDocument() {
    if (src_.size() > limits_.max_source_bytes) {
      return Error::InvalidArgument(*file_ + ": file is larger than " +
                                    std::to_string(limits_.max_source_bytes) + " bytes");
    }
    JsonNode root = BERTH_TRY(ReadValue(0));
    SkipSpace();
    if (pos_ != src_.size()) {
      return Err(pos_, "Extraneous data after value",
                 "Extra characters appear after the JSON value.");
    }
    return root;
  }

  Pos PosAt(size_t byte) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), byte);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    Pos p;
    p.line = static_cast<int>(line);
    p.column = static_cast<int>(byte - line_starts_[line - 1]) + 1;
    p.byte = byte;
    return p;
  }

  Range RangeOf(size_t start, size_t end) const {
    return Range{file_, PosAt(start), PosAt(std::max(start, end))};
  }

  Error Err(size_t at, std::string_view summary, std::string_view detail) const {
    return LocatedError(RangeOf(at, at), summary, detail);
  }

  const std::shared_ptr<const std::string>& file() const { return file_; }
  std::string_view source() const { return src_; }

 private:
  void SkipSpace() {
    while (pos_ < src_.size() &&
           (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r')) {
      ++pos_;
    }
  }

  Result<JsonNode> ReadValue(int depth) {
    if (depth > limits_.max_depth) {
      return Err(
          pos_, "Nesting too deep",
          "JSON values may nest at most " + std::to_string(limits_.max_depth) + " levels deep.");
    }
    SkipSpace();
    JsonNode node;
    node.start = pos_;
    if (pos_ >= src_.size()) {
      return Err(pos_, "Missing JSON value", "A JSON value must start here.");
    }
    const char c = src_[pos_];
    if (c == '{') {
      node.kind = JsonNode::Kind::kObject;
      std::set<std::string, std::less<>> seen;
      ++pos_;
      SkipSpace();
      if (pos_ < src_.size() && src_[pos_] == '}') {
        ++pos_;
      } else {
        while (true) {
          SkipSpace();
          if (pos_ >= src_.size() || src_[pos_] != '"') {
            return Err(pos_, "Invalid JSON object", "A property name in quotes is expected.");
          }
          const size_t key_at = pos_;
          std::string key = BERTH_TRY(ReadString());
          SkipSpace();
          if (pos_ >= src_.size() || src_[pos_] != ':') {
            return Err(pos_, "Missing property value colon",
                       "JSON uses a colon as its name/value delimiter.");
          }
          ++pos_;
          if (!seen.insert(key).second) {
            return Err(key_at, "Duplicate property",
                       "The property " + QuoteString(key) + " is already defined.");
          }
          JsonNode value = BERTH_TRY(ReadValue(depth + 1));
          node.keys.push_back(std::move(key));
          node.values.push_back(std::move(value));
          node.key_offsets.push_back(key_at);
          SkipSpace();
          if (pos_ < src_.size() && src_[pos_] == ',') {
            ++pos_;
            continue;
          }
          if (pos_ < src_.size() && src_[pos_] == '}') {
            ++pos_;
            break;
          }
          return Err(pos_, "Missing property separator",
                     "A comma or closing brace is expected here.");
        }
      }
    } else if (c == '[') {
      node.kind = JsonNode::Kind::kArray;
      ++pos_;
      SkipSpace();
      if (pos_ < src_.size() && src_[pos_] == ']') {
        ++pos_;
      } else {
        while (true) {
          node.elements.push_back(BERTH_TRY(ReadValue(depth + 1)));
          SkipSpace();
          if (pos_ < src_.size() && src_[pos_] == ',') {
            ++pos_;
            continue;
          }
          if (pos_ < src_.size() && src_[pos_] == ']') {
            ++pos_;
            break;
          }
          return Err(pos_, "Missing array element separator",
                     "A comma or closing bracket is expected here.");
        }
      }
    } else if (c == '"') {
      node.kind = JsonNode::Kind::kString;
      node.text = BERTH_TRY(ReadString());
    } else if (src_.substr(pos_, 4) == "true" || src_.substr(pos_, 5) == "false") {
      node.kind = JsonNode::Kind::kBool;
      node.boolean = c == 't';
      pos_ += node.boolean ? 4 : 5;
    } else if (src_.substr(pos_, 4) == "null") {
      node.kind = JsonNode::Kind::kNull;
      pos_ += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t end = pos_ + 1;
      while (end < src_.size() &&
             std::string_view("0123456789.eE+-").find(src_[end]) != std::string_view::npos) {
        ++end;
      }
      std::optional<double> n = ParseNumber(src_.substr(pos_, end - pos_));
      if (!n) {
        return Err(pos_, "Invalid JSON number", "This is not a valid number.");
      }
      node.kind = JsonNode::Kind::kNumber;
      node.number = *n;
      pos_ = end;
    } else {
      return Err(pos_, "Invalid JSON value", "A JSON value must start here.");
    }
    node.end = pos_;
    return node;
  }

  Result<std::string> ReadString() {
    const size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) {
        return Err(start, "Unterminated string", "A JSON string has no closing quote.");
      }
      const char c = src_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Err(pos_, "Invalid character in string",
                   "Control characters must be escaped in JSON strings.");
      }
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) {
        return Err(pos_, "Invalid escape", "A JSON string ends after a backslash.");
      }
      const char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t rune = BERTH_TRY(ReadHex4());
          if (rune >= 0xD800 && rune < 0xDC00 && src_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            const uint32_t low = BERTH_TRY(ReadHex4());
            if (low >= 0xDC00 && low < 0xE000) {
              rune = 0x10000 + ((rune - 0xD800) << 10) + (low - 0xDC00);
            } else {
              rune = gotext::kRuneError;
            }
          }
          gotext::AppendRune(&out, static_cast<char32_t>(rune));
          break;
        }
        default:
          return Err(pos_ - 2, "Invalid escape",
                     "The escape sequence \\" + std::string(1, e) + " is not valid in JSON.");
      }
    }
  }

  Result<uint32_t> ReadHex4() {
    if (pos_ + 4 > src_.size()) {
      return Err(pos_, "Invalid escape", "A \\u escape needs four hexadecimal digits.");
    }
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const char h = src_[pos_ + i];
      uint32_t d = 0;
      if (h >= '0' && h <= '9') {
        d = static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        d = static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        d = static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Err(pos_, "Invalid escape", "A \\u escape needs four hexadecimal digits.");
      }
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  std::string_view src_;
  std::shared_ptr<const std::string> file_;
  ParseLimits limits_;
  std::vector<size_t> line_starts_;
  size_t pos_ = 0;
};

// How a JSON value becomes an expression.
enum class ExprMode { kValue, kExpression, kKeywords, kKeyword };

class Converter {
 public:
  Converter(const JsonReader& reader, const JsonSchema& schema, const ParseLimits& limits)
      : reader_(reader), schema_(schema), limits_(limits) {}

  Result<File> Convert(const JsonNode& root) {
    if (root.kind != JsonNode::Kind::kObject) {
      return reader_.Err(root.start, "Invalid JSON body",
                         "The root of a bake JSON file must be an object.");
    }
    File file;
    file.name = *reader_.file();
    file.body = BERTH_TRY(ConvertBody(root, "", 0));
    return file;
  }

 private:
  Result<Body> ConvertBody(const JsonNode& object, const std::string& block_type, int depth) {
    Body body;
    body.range = reader_.RangeOf(object.start, object.end);
    const std::set<std::string>* nested = nullptr;
    if (auto it = schema_.nested.find(block_type); it != schema_.nested.end()) {
      nested = &it->second;
    }
    for (size_t i = 0; i < object.keys.size(); ++i) {
      const std::string& key = object.keys[i];
      const JsonNode& value = object.values[i];
      const size_t key_at = object.key_offsets[i];
      const Range key_range = reader_.RangeOf(key_at, key_at + key.size() + 2);
      const bool top_block = block_type.empty() && schema_.blocks.contains(key);
      const bool nested_block = nested != nullptr && nested->contains(key);
      if (top_block) {
        // An object of labels to bodies, or an array of such objects.
        std::vector<const JsonNode*> groups;
        if (value.kind == JsonNode::Kind::kArray) {
          for (const JsonNode& e : value.elements) {
            groups.push_back(&e);
          }
        } else {
          groups.push_back(&value);
        }
        for (const JsonNode* group : groups) {
          if (group->kind != JsonNode::Kind::kObject) {
            return reader_.Err(group->start, "Invalid block",
                               "The value of " + QuoteString(key) +
                                   " must be an object of labels to block bodies.");
          }
          for (size_t j = 0; j < group->keys.size(); ++j) {
            const std::string& label = group->keys[j];
            const JsonNode& bodies = group->values[j];
            const Range label_range =
                reader_.RangeOf(group->key_offsets[j], group->key_offsets[j] + label.size() + 2);
            BERTH_TRY(AddBlocks(&body, key, {label}, {label_range}, key_range, bodies, depth));
          }
        }
      } else if (nested_block) {
        BERTH_TRY(AddBlocks(&body, key, {}, {}, key_range, value, depth));
      } else {
        Attribute attr;
        attr.name = key;
        attr.name_range = key_range;
        attr.range = reader_.RangeOf(key_at, value.end);
        ExprMode mode = ExprMode::kValue;
        if (block_type == "variable" && key == "type") {
          mode = ExprMode::kExpression;
        } else if (block_type == "function" && key == "params") {
          mode = ExprMode::kKeywords;
        } else if (block_type == "function" && key == "variadic_params") {
          mode = ExprMode::kKeyword;
        }
        attr.expr = BERTH_TRY(ConvertExpr(value, mode, 0));
        body.attributes.push_back(std::move(attr));
      }
    }
    return body;
  }

  Result<> AddBlocks(Body* body, const std::string& type, const std::vector<std::string>& labels,
                     const std::vector<Range>& label_ranges, const Range& type_range,
                     const JsonNode& value, int depth) {
    if (depth > limits_.max_depth) {
      return reader_.Err(value.start, "Nesting too deep", "Blocks nest too deeply.");
    }
    std::vector<const JsonNode*> bodies;
    if (value.kind == JsonNode::Kind::kArray) {
      for (const JsonNode& e : value.elements) {
        bodies.push_back(&e);
      }
    } else {
      bodies.push_back(&value);
    }
    for (const JsonNode* b : bodies) {
      if (b->kind != JsonNode::Kind::kObject) {
        return reader_.Err(b->start, "Invalid block body", "A block body must be a JSON object.");
      }
      Block block;
      block.type = type;
      block.labels = labels;
      block.label_ranges = label_ranges;
      block.type_range = type_range;
      block.range = reader_.RangeOf(type_range.start.byte, b->end);
      block.body = BERTH_TRY(ConvertBody(*b, type, depth + 1));
      body->blocks.push_back(std::move(block));
    }
    return {};
  }

  std::shared_ptr<Expr> Node(ExprKind kind, const JsonNode& n) const {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->range = reader_.RangeOf(n.start, n.end);
    return e;
  }

  // The position of a string's first character (after the quote).
  Pos ContentPos(const JsonNode& n) const { return reader_.PosAt(n.start + 1); }

  Result<ExprPtr> ConvertExpr(const JsonNode& n, ExprMode mode, int depth) {
    if (depth > limits_.max_depth) {
      return reader_.Err(n.start, "Nesting too deep", "Values nest too deeply.");
    }
    switch (n.kind) {
      case JsonNode::Kind::kNull:
      case JsonNode::Kind::kBool:
      case JsonNode::Kind::kNumber: {
        auto e = Node(ExprKind::kLiteral, n);
        e->literal = n.kind == JsonNode::Kind::kNull   ? Value::Null()
                     : n.kind == JsonNode::Kind::kBool ? Value::Bool(n.boolean)
                                                       : Value::Number(n.number);
        return ExprPtr(e);
      }
      case JsonNode::Kind::kString:
        if (mode == ExprMode::kExpression) {
          return ParseExpression(n.text, *reader_.file(), limits_, ContentPos(n));
        }
        if (mode == ExprMode::kKeyword || mode == ExprMode::kKeywords) {
          auto e = Node(ExprKind::kVariable, n);
          e->name = n.text;
          return ExprPtr(e);
        }
        return ParseTemplate(n.text, *reader_.file(), limits_, ContentPos(n));
      case JsonNode::Kind::kArray: {
        auto e = Node(ExprKind::kTuple, n);
        const ExprMode inner = mode == ExprMode::kKeywords ? ExprMode::kKeyword : mode;
        int height = 0;
        for (const JsonNode& el : n.elements) {
          e->children.push_back(BERTH_TRY(ConvertExpr(el, inner, depth + 1)));
          height = std::max(height, e->children.back()->height);
        }
        e->height = height + 1;
        return ExprPtr(e);
      }
      case JsonNode::Kind::kObject: {
        auto e = Node(ExprKind::kObject, n);
        int height = 0;
        for (size_t i = 0; i < n.keys.size(); ++i) {
          const std::string& key = n.keys[i];
          const JsonNode& value = n.values[i];
          auto k = std::make_shared<Expr>();
          k->kind = ExprKind::kLiteral;
          k->literal = Value::String(key);
          k->range = reader_.RangeOf(n.key_offsets[i], n.key_offsets[i] + key.size() + 2);
          e->children.push_back(k);
          e->children.push_back(BERTH_TRY(ConvertExpr(value, mode, depth + 1)));
          height = std::max(height, e->children.back()->height);
        }
        e->height = height + 1;
        return ExprPtr(e);
      }
    }
    return reader_.Err(n.start, "Invalid JSON value", "Unknown value kind.");
  }

  const JsonReader& reader_;
  const JsonSchema& schema_;
  ParseLimits limits_;
};

}  // namespace

Result<File> ParseJson(std::string_view source, std::string_view file_name,
                       const JsonSchema& schema, const ParseLimits& limits) {
  JsonReader reader(source, file_name, limits);
  JsonNode root = BERTH_TRY(reader.ReadDocument());
  Converter converter(reader, schema, limits);
  return converter.Convert(root);
}

}  // namespace berth::frontend::bake::hcl
