#include "frontend/dockerfile/convert/mount.h"

#include <gtest/gtest.h>

namespace berth::frontend::dockerfile::convert {
namespace {

TEST(MountTest, Defaults) {
  MountSpec bind = ParseMount("target=/src").value();
  EXPECT_EQ(bind.type, graph::MountType::kBind);
  EXPECT_TRUE(bind.readonly);
  MountSpec rw = ParseMount("type=bind,target=/src,rw").value();
  EXPECT_FALSE(rw.readonly);
  MountSpec cache = ParseMount("type=cache,target=/root/.cache").value();
  EXPECT_EQ(cache.id, "/root/.cache");
  EXPECT_FALSE(cache.readonly);
  EXPECT_EQ(cache.sharing, graph::CacheSharing::kShared);
  MountSpec secret = ParseMount("type=secret,id=token").value();
  EXPECT_EQ(secret.target, "/run/secrets/token");
  EXPECT_EQ(secret.mode.value(), 0400u);
  EXPECT_FALSE(secret.required);
  MountSpec by_target = ParseMount("type=secret,target=/etc/key,required").value();
  EXPECT_EQ(by_target.id, "key");
  EXPECT_TRUE(by_target.required);
  MountSpec ssh = ParseMount("type=ssh").value();
  EXPECT_EQ(ssh.id, "default");
  MountSpec env = ParseMount("type=secret,id=aws,env=AWS_KEY").value();
  EXPECT_EQ(env.env, "AWS_KEY");
  EXPECT_TRUE(env.target.empty());
}

TEST(MountTest, AllOptions) {
  MountSpec m = ParseMount(
                    "type=cache,id=go,target=/go/pkg,sharing=locked,from=builder,source=/cache,"
                    "mode=0700,uid=1000,gid=1000")
                    .value();
  EXPECT_EQ(m.id, "go");
  EXPECT_EQ(m.sharing, graph::CacheSharing::kLocked);
  EXPECT_EQ(m.from, "builder");
  EXPECT_EQ(m.source, "/cache");
  EXPECT_EQ(m.mode.value(), 0700u);
  EXPECT_EQ(m.uid.value(), 1000u);
  MountSpec t = ParseMount("type=tmpfs,target=/tmp,size=64m").value();
  EXPECT_EQ(t.size, 64u << 20);
  MountSpec quoted = ParseMount("type=bind,\"target=/a,b\"").value();
  EXPECT_EQ(quoted.target, "/a,b");
}

TEST(MountTest, Errors) {
  for (const char* bad :
       {"type=nfs,target=/x", "type=cache", "target=/x,bogus=1", "type=cache,target=/x,sharing=all",
        "type=cache,target=/x,mode=999", "type=bind,target=/x,uid=1", "type=secret",
        "type=tmpfs,target=/x,size=lots", "type=bind,\"target=/x", "type=tmpfs,target=/x,from=a",
        "type=cache,target=/x,uid=99999999999999"}) {
    EXPECT_FALSE(ParseMount(bad).ok()) << bad;
  }
}

TEST(MountTest, Sizes) {
  EXPECT_EQ(ParseSize("1024").value(), 1024u);
  EXPECT_EQ(ParseSize("1k").value(), 1024u);
  EXPECT_EQ(ParseSize("2GiB").value(), 2ull << 30);
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("1p").ok());
}

}  // namespace
}  // namespace berth::frontend::dockerfile::convert
