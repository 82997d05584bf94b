#include "engine/options_json.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(OptionsJsonTest, RoundTripsWhatTravels) {
  BuildOptions o;
  o.root = "/var/lib/berth";  // local: does not travel
  o.context = "/home/me/app";
  o.dockerfile_text = "FROM busybox\nRUN echo hi\n";
  o.dockerfile_name = "Dockerfile.dev";
  o.context_excludes = {"*.log", "!keep.log"};
  o.build_args = {{"A", "1"}};
  o.build_contexts = {{"base", "docker-image://busybox:latest"}, {"src", "/home/me/lib"}};
  o.target = "build";
  o.tags = {"app:v1"};
  o.no_cache_filter = {"build"};
  o.cache_from = {"registry.example/app:cache", "type=local,src=/home/me/cache"};
  o.cache_to = {"type=registry,ref=registry.example/app:cache,mode=max",
                "type=local,dest=/home/me/cache"};
  o.attests = {"type=provenance,mode=max", "type=sbom"};
  o.pull = true;
  o.labels = {{"l", "v"}};
  o.annotations = {{"org.a", "b"}};
  o.network = "none";
  o.extra_hosts = {"h:1.2.3.4"};
  o.ulimits = {{.name = "nofile", .soft = 10, .hard = 20}};
  o.shm_size = 1 << 20;
  o.outputs = {{.type = OutputType::kOci, .names = {"x"}, .dest = "-", .tar = false}};
  o.source_date_epoch = 1700000000;
  o.secrets = {{"tok", std::string("s3cr\0t", 6)}};

  Result<BuildOptions> back = OptionsFromJson(OptionsToJson(o, /*with_secrets=*/true));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->root, "");
  EXPECT_EQ(back->context, "");
  EXPECT_EQ(back->dockerfile_text, o.dockerfile_text);
  EXPECT_EQ(back->dockerfile_name, o.dockerfile_name);
  EXPECT_EQ(back->context_excludes, o.context_excludes);
  EXPECT_EQ(back->build_args, o.build_args);
  // A local directory context cannot travel; the image one does.
  EXPECT_EQ(back->build_contexts,
            (std::map<std::string, std::string>{{"base", "docker-image://busybox:latest"}}));
  EXPECT_EQ(back->target, "build");
  EXPECT_EQ(back->tags, o.tags);
  EXPECT_EQ(back->no_cache_filter, o.no_cache_filter);
  // A registry cache travels; a local cache directory is a path on the client.
  EXPECT_EQ(back->cache_from, std::vector<std::string>{"registry.example/app:cache"});
  EXPECT_EQ(back->cache_to,
            std::vector<std::string>{"type=registry,ref=registry.example/app:cache,mode=max"});
  EXPECT_EQ(back->attests, o.attests);
  EXPECT_TRUE(back->pull);
  EXPECT_EQ(back->labels, o.labels);
  EXPECT_EQ(back->annotations, o.annotations);
  EXPECT_EQ(back->network, "none");
  EXPECT_EQ(back->extra_hosts, o.extra_hosts);
  ASSERT_EQ(back->ulimits.size(), 1u);
  EXPECT_EQ(back->ulimits[0].hard, 20);
  EXPECT_EQ(back->shm_size, 1u << 20);
  ASSERT_EQ(back->outputs.size(), 1u);
  EXPECT_EQ(back->outputs[0].type, OutputType::kOci);
  EXPECT_FALSE(back->outputs[0].tar);
  EXPECT_EQ(back->outputs[0].names, std::vector<std::string>{"x"});
  EXPECT_EQ(back->source_date_epoch, 1700000000);
  EXPECT_EQ(back->secrets.at("tok"), std::string("s3cr\0t", 6));
}

TEST(OptionsJsonTest, StoredFormHasNoSecretValues) {
  BuildOptions o;
  o.secrets = {{"tok", "hunter2"}};
  std::string stored = OptionsToJson(o, /*with_secrets=*/false);
  EXPECT_EQ(stored.find("hunter2"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("aHVudGVyMg"), std::string::npos);  // nor its base64
  EXPECT_NE(stored.find("\"secret_ids\":[\"tok\"]"), std::string::npos) << stored;
}

TEST(OptionsJsonTest, BadFieldsAreNamed) {
  struct Case {
    const char* json;
    const char* want;
  };
  for (const Case& c :
       {Case{"[]", "want a JSON object"}, Case{"{\"tags\":\"x\"}", "tags"},
        Case{"{\"no_cache\":1}", "no_cache"},
        Case{"{\"outputs\":[{\"type\":\"floppy\"}]}", "outputs[0].type"},
        Case{"{\"build_contexts\":{\"a\":\"/etc\"}}", "build_contexts.a"},
        Case{"{\"dockerfile_name\":\"../x\"}", "dockerfile_name"},
        Case{"{\"shm_size\":-1}", "shm_size"},
        Case{"{\"cache_to\":[\"type=local,dest=/etc\"]}", "cache_to[0]: only type=registry"},
        Case{"{\"cache_from\":[\"type=gha\"]}", "cache_from[0]"},
        Case{"{\"attests\":[\"type=signature\"]}", "attests"},
        Case{"{\"secrets\":{\"a\":\"%%%\"}}", "secrets.a"}, Case{"{bad", "build options"}}) {
    Result<BuildOptions> r = OptionsFromJson(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().ToString().find(c.want), std::string::npos)
        << c.json << ": " << r.error().ToString();
  }
}

}  // namespace
}  // namespace berth::engine
