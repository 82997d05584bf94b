#include "engine/output.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(ParseOutputTest, Shorthands) {
  Result<Output> dir = ParseOutput("out/dir");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  EXPECT_EQ(dir->type, OutputType::kLocal);
  EXPECT_EQ(dir->dest, "out/dir");
  Result<Output> stdout_tar = ParseOutput("-");
  ASSERT_TRUE(stdout_tar.ok());
  EXPECT_EQ(stdout_tar->type, OutputType::kTar);
  EXPECT_EQ(stdout_tar->dest, "-");
}

TEST(ParseOutputTest, TypesAndAttributes) {
  Result<Output> reg = ParseOutput("type=registry,\"name=a:1,b:2\"");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  EXPECT_EQ(reg->type, OutputType::kImage);
  EXPECT_TRUE(reg->push);
  EXPECT_EQ(reg->names, (std::vector<std::string>{"a:1", "b:2"}));

  Result<Output> image = ParseOutput("type=image,name=x,push=true,oci-mediatypes=true");
  ASSERT_TRUE(image.ok()) << image.error().ToString();
  EXPECT_TRUE(image->push);

  Result<Output> oci = ParseOutput("type=oci,dest=dir,tar=false,annotation.org.a=b");
  ASSERT_TRUE(oci.ok()) << oci.error().ToString();
  EXPECT_EQ(oci->type, OutputType::kOci);
  EXPECT_FALSE(oci->tar);
  EXPECT_EQ(oci->annotations.at("org.a"), "b");

  Result<Output> docker = ParseOutput("type=docker");
  ASSERT_TRUE(docker.ok());
  EXPECT_EQ(docker->type, OutputType::kDocker);
  EXPECT_TRUE(docker->dest.empty());
}

TEST(ParseOutputTest, ErrorsNameTheField) {
  struct Case {
    const char* spec;
    const char* want;
  };
  for (const Case& c :
       {Case{"type=nope", "unknown type \"nope\""}, Case{"dest=x", "type= is required"},
        Case{"type=local", "dest="}, Case{"type=local,dest=-", "not -"},
        Case{"type=local,dest=d,colour=red", "\"colour\""},
        Case{"type=image,push=maybe", "push=maybe"}, Case{"type=oci,tar=false", "directory"},
        Case{"type=local,junk", "not KEY=VALUE"}, Case{"type=local,\"dest=x", "unterminated quote"},
        Case{"type=image,compression=zstd", "only gzip"}, Case{"", "empty"}}) {
    Result<Output> r = ParseOutput(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_NE(r.error().ToString().find(c.want), std::string::npos)
        << c.spec << ": " << r.error().ToString();
  }
}

TEST(SplitCsvTest, QuotesAndEscapes) {
  EXPECT_EQ(SplitCsv("a,b").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SplitCsv("\"a,b\",c").value(), (std::vector<std::string>{"a,b", "c"}));
  EXPECT_EQ(SplitCsv("\"say \"\"hi\"\"\"").value(), (std::vector<std::string>{"say \"hi\""}));
  EXPECT_EQ(SplitCsv("a,").value(), (std::vector<std::string>{"a", ""}));
  EXPECT_FALSE(SplitCsv("\"a\"b").ok());
}

}  // namespace
}  // namespace berth::engine
