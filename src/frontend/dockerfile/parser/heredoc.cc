// Heredocs: finding `<<EOF` words on an instruction line and reading their delimiters.
//
// BuildKit finds heredocs with its shell word lexer (frontend/dockerfile/shell), run with no
// environment and with unset variables left as written. This file carries the part of that
// lexer the parser needs, so that the parser does not depend on the layer above it: the same
// word splitting, quoting, escapes and `$` forms, which here only ever echo their input.

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/gotext.h"
#include "frontend/dockerfile/parser/internal.h"
#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::parser {
namespace {

constexpr char32_t kEof = static_cast<char32_t>(-1);

// `${...}` forms nest (`${a:-${b:-c}}`) and the lexer follows them by recursion, as BuildKit's
// does. Go grows its stacks; ours are fixed, so nesting deeper than this is refused.
constexpr int kMaxNesting = 64;

// Go's string(rune): the end-of-input marker -1 reads as U+FFFD.
std::string RuneString(char32_t rune) {
  std::string out;
  gotext::AppendRune(&out, rune == kEof ? gotext::kRuneError : rune);
  return out;
}

// Accumulates the words of the input as the lexer produces text.
class Words {
 public:
  // A character outside quotes: white space ends the current word.
  void AddChar(char32_t rune) {
    if (gotext::IsSpace(rune)) {
      if (in_word_ && !word_.empty()) {
        words_.push_back(std::move(word_));
        word_.clear();
        in_word_ = false;
      }
      return;
    }
    AddRawChar(rune);
  }
  void AddRawChar(char32_t rune) {
    gotext::AppendRune(&word_, rune);
    in_word_ = true;
  }
  void AddString(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
      gotext::DecodedRune r = gotext::DecodeRune(text, pos);
      AddChar(r.rune);
      pos += r.width;
    }
  }
  void AddRawString(std::string_view text) {
    word_ += text;
    in_word_ = true;
  }
  std::vector<std::string> Take() {
    if (!word_.empty()) {
      words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    }
    return std::move(words_);
  }

 private:
  std::string word_;
  std::vector<std::string> words_;
  bool in_word_ = false;
};

// BuildKit's shell.Lex with escape token '\', SkipUnsetEnv and an empty environment.
class WordLexer {
 public:
  WordLexer(std::string_view input, bool raw_quotes, bool raw_escapes)
      : source_(input), raw_quotes_(raw_quotes), raw_escapes_(raw_escapes) {
    runes_.reserve(input.size());
    for (size_t pos = 0; pos < input.size();) {
      gotext::DecodedRune r = gotext::DecodeRune(input, pos);
      runes_.push_back(r.rune);
      pos += r.width;
    }
    // Go's text/scanner skips a byte order mark at the start of its input.
    if (!runes_.empty() && runes_[0] == 0xFEFF) {
      pos_ = 1;
    }
  }

  Result<std::vector<std::string>> ProcessWords() {
    Result<Processed> processed = ProcessStopOn(kEof, raw_escapes_);
    if (!processed.ok()) {
      return Error::InvalidArgument("failed to process " + gotext::Quote(source_) + ": " +
                                    processed.error().message());
    }
    return std::move(processed->words);
  }

 private:
  struct Processed {
    std::string result;
    std::vector<std::string> words;
  };

  char32_t Peek() const { return pos_ < runes_.size() ? runes_[pos_] : kEof; }
  char32_t Next() { return pos_ < runes_.size() ? runes_[pos_++] : kEof; }

  // Reads up to `stop` (consumed) or to the end of input when `stop` is kEof.
  Result<Processed> ProcessStopOn(char32_t stop, bool raw_escapes) {
    const bool saved_raw_escapes = raw_escapes_;
    raw_escapes_ = raw_escapes;
    Result<Processed> processed = ProcessStopOnImpl(stop);
    raw_escapes_ = saved_raw_escapes;
    return processed;
  }

  Result<Processed> ProcessStopOnImpl(char32_t stop) {
    std::string result;
    Words words;
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (stop != kEof && ch == stop) {
        Next();
        return Processed{std::move(result), words.Take()};
      }
      if (ch == '$' || ch == '<' || ch == '\'' || ch == '"') {
        Result<std::string> special = ch == '$'    ? ProcessDollar()
                                      : ch == '<'  ? ProcessPossibleHeredoc()
                                      : ch == '\'' ? ProcessSingleQuote()
                                                   : ProcessDoubleQuote();
        if (!special.ok()) {
          return std::move(special).error();
        }
        result += *special;
        if (ch == '$') {
          words.AddString(*special);
        } else {
          words.AddRawString(*special);
        }
        continue;
      }
      ch = Next();
      if (ch == '\\') {
        if (raw_escapes_) {
          words.AddRawChar(ch);
          gotext::AppendRune(&result, ch);
        }
        ch = Next();
        if (ch == kEof) {
          break;
        }
        words.AddRawChar(ch);
      } else {
        words.AddChar(ch);
      }
      gotext::AppendRune(&result, ch);
    }
    if (stop != kEof) {
      return Error::InvalidArgument("unexpected end of statement while looking for matching " +
                                    RuneString(stop));
    }
    return Processed{std::move(result), words.Take()};
  }

  Result<std::string> ProcessSingleQuote() {
    std::string result;
    char32_t ch = Next();
    if (raw_quotes_) {
      gotext::AppendRune(&result, ch);
    }
    for (;;) {
      ch = Next();
      if (ch == kEof) {
        return Error::InvalidArgument(
            "unexpected end of statement while looking for matching single-quote");
      }
      if (ch == '\'') {
        if (raw_quotes_) {
          gotext::AppendRune(&result, ch);
        }
        return result;
      }
      gotext::AppendRune(&result, ch);
    }
  }

  Result<std::string> ProcessDoubleQuote() {
    std::string result;
    char32_t ch = Next();
    if (raw_quotes_) {
      gotext::AppendRune(&result, ch);
    }
    for (;;) {
      switch (Peek()) {
        case kEof:
          return Error::InvalidArgument(
              "unexpected end of statement while looking for matching double-quote");
        case '"':
          ch = Next();
          if (raw_quotes_) {
            gotext::AppendRune(&result, ch);
          }
          return result;
        case '$': {
          Result<std::string> value = ProcessDollar();
          if (!value.ok()) {
            return value;
          }
          result += *value;
          continue;
        }
        default:
          break;
      }
      ch = Next();
      if (ch == '\\') {
        if (raw_escapes_) {
          gotext::AppendRune(&result, ch);
        }
        char32_t next = Peek();
        if (next == kEof) {
          continue;  // the loop then reports the missing quote
        }
        if (next == '"' || next == '$' || next == '\\') {
          ch = Next();
        }
      }
      gotext::AppendRune(&result, ch);
    }
  }

  // With no variables set and unset ones kept, every `$` form comes back as written, apart from
  // the quoting and escapes inside `${name<op>word}` that the nested word loses.
  Result<std::string> ProcessDollar() {
    Next();  // '$'
    if (Peek() != '{') {
      std::string name = ProcessName();
      return name.empty() ? "$" : "$" + name;
    }
    Next();  // '{'
    switch (Peek()) {
      case kEof:
        return Error::InvalidArgument("syntax error: missing '}'");
      case '{':
      case '}':
      case ':':
        return Error::InvalidArgument("syntax error: bad substitution");
      default:
        break;
    }
    std::string name = ProcessName();
    char32_t ch = Next();
    std::string modifier = RuneString(ch);
    if (ch == '}') {
      return "${" + name + "}";
    }
    if (ch != ':' && ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%' && ch != '/') {
      return Error::InvalidArgument("unsupported modifier (" + modifier + ") in substitution");
    }
    if (++depth_ > kMaxNesting) {
      return Error::InvalidArgument("variable substitutions nested too deeply");
    }
    std::string expansion = "${" + name;
    if (ch == '/') {
      if (Peek() == '/') {
        Next();  // `//` (replace all) is dropped from the echoed form, as BuildKit does
      }
      Result<Processed> pattern = ProcessStopOn('/', true);
      if (!pattern.ok()) {
        return Peek() == kEof ? Error::InvalidArgument("syntax error: missing '/' in ${}")
                              : std::move(pattern).error();
      }
      Result<Processed> replacement = ProcessStopOn('}', true);
      if (!replacement.ok()) {
        return Peek() == kEof ? Error::InvalidArgument("syntax error: missing '}'")
                              : std::move(replacement).error();
      }
      expansion += "/" + pattern->result + "/" + replacement->result + "}";
    } else {
      if (ch == ':') {
        ch = Next();
        modifier += RuneString(ch);
      }
      Result<Processed> word = ProcessStopOn('}', ch == '#' || ch == '%');
      if (!word.ok()) {
        return Peek() == kEof ? Error::InvalidArgument("syntax error: missing '}'")
                              : std::move(word).error();
      }
      expansion += modifier + word->result + "}";
    }
    --depth_;
    return expansion;
  }

  std::string ProcessName() {
    std::string name;
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (name.empty() && gotext::IsDigit(ch)) {
        while (Peek() != kEof && gotext::IsDigit(Peek())) {
          gotext::AppendRune(&name, Next());
        }
        return name;
      }
      if (name.empty() && IsSpecialParam(ch)) {
        Next();
        return RuneString(ch);
      }
      if (!gotext::IsLetter(ch) && !gotext::IsDigit(ch) && ch != '_') {
        break;
      }
      gotext::AppendRune(&name, Next());
    }
    return name;
  }

  static bool IsSpecialParam(char32_t ch) {
    return ch == '@' || ch == '*' || ch == '#' || ch == '?' || ch == '-' || ch == '$' ||
           ch == '!' || ch == '0';
  }

  // `<<` keeps the blanks that follow it, so `<<  EOF` stays one word.
  Result<std::string> ProcessPossibleHeredoc() {
    Next();  // '<'
    if (Peek() != '<') {
      return std::string("<");
    }
    Next();
    std::string result = "<<";
    while (Peek() == ' ' || Peek() == '\t' || Peek() == '\r' || Peek() == '\n') {
      gotext::AppendRune(&result, Next());
    }
    return result;
  }

  std::string_view source_;
  std::vector<char32_t> runes_;
  size_t pos_ = 0;
  bool raw_quotes_;
  bool raw_escapes_;
  int depth_ = 0;
};

Result<std::vector<std::string>> LexWords(std::string_view input, bool raw_quotes,
                                          bool raw_escapes) {
  return WordLexer(input, raw_quotes, raw_escapes).ProcessWords();
}

size_t CountQuotes(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    count += c == '\'' || c == '"';
  }
  return count;
}

}  // namespace

Result<std::optional<Heredoc>> ParseHeredoc(std::string_view word) {
  // The word must match ^(\d*)<<(-?)\s*([^<]*)$.
  size_t i = 0;
  uint64_t fd = 0;
  while (i < word.size() && word[i] >= '0' && word[i] <= '9') {
    fd = std::min<uint64_t>(fd * 10 + static_cast<uint64_t>(word[i] - '0'), INT_MAX);
    ++i;
  }
  if (word.substr(i, 2) != "<<") {
    return std::optional<Heredoc>();
  }
  i += 2;
  const bool chomp = i < word.size() && word[i] == '-';
  if (chomp) {
    ++i;
  }
  while (i < word.size() && (word[i] == ' ' || word[i] == '\t' || word[i] == '\n' ||
                             word[i] == '\f' || word[i] == '\r')) {
    ++i;
  }
  std::string_view rest = word.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) {
    return std::optional<Heredoc>();
  }

  // Lex the delimiter with and without its quotes: if they differ in the number of quote
  // characters, part of the delimiter was quoted and the body must not be expanded. Escaped
  // quotes survive both ways and cancel out.
  std::vector<std::string> words = BERTH_TRY(LexWords(rest, false, false));
  if (words.size() != 1) {
    return std::optional<Heredoc>();
  }
  std::vector<std::string> raw_words = BERTH_TRY(LexWords(rest, true, false));
  if (raw_words.size() != words.size()) {
    return Error::InvalidArgument("internal lexing of heredoc produced inconsistent results: " +
                                  std::string(rest));
  }
  Heredoc heredoc;
  heredoc.expand = CountQuotes(words[0]) == CountQuotes(raw_words[0]);
  heredoc.name = std::move(words[0]);
  heredoc.chomp = chomp;
  heredoc.file_descriptor = static_cast<int>(fd);
  return std::optional<Heredoc>(std::move(heredoc));
}

namespace internal {

Result<std::vector<Heredoc>> HeredocsFromLineChecked(std::string_view line) {
  Result<std::vector<std::string>> words = LexWords(line, true, true);
  std::vector<Heredoc> heredocs;
  if (!words.ok()) {
    return heredocs;
  }
  for (const std::string& word : *words) {
    std::optional<Heredoc> heredoc = BERTH_TRY(ParseHeredoc(word));
    if (heredoc) {
      heredocs.push_back(std::move(*heredoc));
    }
  }
  return heredocs;
}

}  // namespace internal

std::vector<Heredoc> HeredocsFromLine(std::string_view line) {
  return internal::HeredocsFromLineChecked(line).value_or({});
}

std::string ChompHeredocContent(std::string_view content) {
  std::string out;
  out.reserve(content.size());
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') {
      continue;
    }
    line_start = c == '\n';
    out.push_back(c);
  }
  return out;
}

}  // namespace berth::frontend::dockerfile::parser
