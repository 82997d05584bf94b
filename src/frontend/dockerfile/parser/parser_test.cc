// Unit tests for behaviour the conformance data does not pin down.

#include "frontend/dockerfile/parser/parser.h"

#include <string>

#include <gtest/gtest.h>

namespace berth::frontend::dockerfile::parser {
namespace {

std::string DumpOf(std::string_view dockerfile) {
  Result<Ast> ast = Parse(dockerfile);
  if (!ast.ok()) {
    return "error: " + ast.error().message();
  }
  return Dump(*ast);
}

TEST(ParseTest, Basic) {
  EXPECT_EQ(DumpOf("FROM busybox\nRUN echo hi\n"), "(from \"busybox\")\n(run \"echo hi\")\n");
}

}  // namespace
}  // namespace berth::frontend::dockerfile::parser
