// berthd: the build service. This file is the composition root: flags and the config file, the
// metadata store, the HTTP server with the API and the registry (/v2/), and the signal handling
// of a daemon.
//
//   berthd --listen 127.0.0.1:8088 --root DIR [--database URL] [--tls-cert F --tls-key F]
//          [--registry-url URL] [--config FILE]
// Every flag can also be set in the TOML config file (listen, root, database, tls_cert,
// tls_key, registry_url, threads, builds, runtime); flags win. First start: BERTHD_ADMIN_TOKEN sets
// the first admin token, otherwise one is printed once.
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "base/context.h"
#include "base/error.h"
#include "base/version.h"
#include "content/local_store.h"
#include "engine/cache_admin.h"
#include "httpserver/server.h"
#include "metastore/store.h"
#include "oidc/verifier.h"
#include "os/file.h"
#include "registryserver/registry.h"
#include "registryserver/saved.h"
#include "service/api.h"
#include "service/builder.h"
#include "service/remote.h"
#include "service/trust_api.h"
#include "service/usage_api.h"

namespace berth {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Config {
  std::string listen = "127.0.0.1:8088";
  std::string root = "/var/lib/berthd";
  std::string database;  // default: sqlite under root
  std::string tls_cert;
  std::string tls_key;
  // How registry clients reach berthd (the token realm); empty: the address each client used.
  std::string registry_url;
  int threads = 32;
  int builds = 2;       // builds running at once; more wait queued
  std::string runtime;  // the OCI runtime for RUN (runc, crun, a path); "" = runc
  // Trust policies may name plain-http issuers on loopback (tests with a local issuer).
  bool oidc_allow_http_loopback = false;
};

// Fills the fields the flags left unset from the TOML file.
Result<> LoadConfig(const std::string& path, Config& config, const CLI::App& app) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error::InvalidArgument(path + ":" + std::to_string(where.line) + ":" +
                                  std::to_string(where.column) + ": " +
                                  std::string(e.description()));
  }
  for (const auto& [key, value] : table) {
    std::string k(key.str());
    auto set_string = [&](const char* flag, std::string& field) -> Result<> {
      if (app.count(flag) > 0) {
        return {};
      }
      std::optional<std::string> v = value.value<std::string>();
      if (!v) {
        return Error::InvalidArgument(path + ": " + k + ": want a string");
      }
      field = *v;
      return {};
    };
    if (k == "listen") {
      BERTH_TRY(set_string("--listen", config.listen));
    } else if (k == "root") {
      BERTH_TRY(set_string("--root", config.root));
    } else if (k == "database") {
      BERTH_TRY(set_string("--database", config.database));
    } else if (k == "tls_cert") {
      BERTH_TRY(set_string("--tls-cert", config.tls_cert));
    } else if (k == "tls_key") {
      BERTH_TRY(set_string("--tls-key", config.tls_key));
    } else if (k == "registry_url") {
      BERTH_TRY(set_string("--registry-url", config.registry_url));
    } else if (k == "runtime") {
      BERTH_TRY(set_string("--runtime", config.runtime));
    } else if (k == "oidc_allow_http_loopback") {
      std::optional<bool> v = value.value<bool>();
      if (!v) {
        return Error::InvalidArgument(path + ": oidc_allow_http_loopback: want true or false");
      }
      if (app.count("--oidc-allow-http-loopback") == 0) {
        config.oidc_allow_http_loopback = *v;
      }
    } else if (k == "builds") {
      std::optional<int64_t> v = value.value<int64_t>();
      if (!v || *v < 1 || *v > 256) {
        return Error::InvalidArgument(path + ": builds: want an integer in [1, 256]");
      }
      if (app.count("--builds") == 0) {
        config.builds = static_cast<int>(*v);
      }
    } else if (k == "threads") {
      std::optional<int64_t> v = value.value<int64_t>();
      if (!v || *v < 1 || *v > 1024) {
        return Error::InvalidArgument(path + ": threads: want an integer in [1, 1024]");
      }
      if (app.count("--threads") == 0) {
        config.threads = static_cast<int>(*v);
      }
    } else {
      return Error::InvalidArgument(path + ": unknown key \"" + k + "\"");
    }
  }
  return {};
}

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error::InvalidArgument("--listen " + listen + ": want HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535 || colon + 1 == listen.size()) {
    return Error::InvalidArgument("--listen " + listen + ": bad port");
  }
  return std::make_pair(host.empty() ? std::string("127.0.0.1") : host, static_cast<int>(port));
}

Result<> Serve(const Config& config) {
  auto [host, port] = BERTH_TRY(ParseListen(config.listen));
  BERTH_TRY_CONTEXT(os::MakeDirs(config.root, 0700), "--root " + config.root);
  std::string database =
      config.database.empty() ? "sqlite://" + config.root + "/berthd.db" : config.database;
  Context ctx = Context::Background();
  std::unique_ptr<metastore::Store> store = BERTH_TRY_CONTEXT(
      metastore::Open(database), "opening the database " + metastore::RedactUrl(database));
  int64_t failed =
      BERTH_TRY(store->FailUnfinishedBuilds(ctx, "berthd restarted while the build was running"));
  if (failed > 0) {
    std::fprintf(stderr, "berthd: marked %lld unfinished build(s) of the last run as failed\n",
                 static_cast<long long>(failed));
  }
  // What those builds left on the builder: mounts and work-in-progress snapshots.
  Result<engine::Recovery> recovered = engine::RecoverRoot(ctx, config.root + "/builder");
  if (!recovered.ok()) {
    std::fprintf(stderr, "berthd: cleaning up after the last run: %s\n",
                 recovered.error().ToString().c_str());
  } else if (recovered->containers > 0 || recovered->unmounted > 0 || recovered->snapshots > 0) {
    std::fprintf(stderr,
                 "berthd: cleaned up after the last run: %lld container(s), %lld mount(s), "
                 "%lld unfinished snapshot(s)\n",
                 static_cast<long long>(recovered->containers),
                 static_cast<long long>(recovered->unmounted),
                 static_cast<long long>(recovered->snapshots));
  }
  const char* env_token = std::getenv("BERTHD_ADMIN_TOKEN");
  std::string admin = BERTH_TRY_CONTEXT(
      service::Bootstrap(ctx, *store, env_token != nullptr ? env_token : ""), "first start");
  if (!admin.empty() && (env_token == nullptr || *env_token == '\0')) {
    std::printf("berthd: first start: the admin token is %s (shown once; keep it safe)\n",
                admin.c_str());
    std::fflush(stdout);
  }

  // Signals are taken by sigwait below, in this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<httpserver::Server> server =
      BERTH_TRY(httpserver::Server::Create({.host = host,
                                            .port = port,
                                            .tls_cert = config.tls_cert,
                                            .tls_key = config.tls_key,
                                            .threads = static_cast<size_t>(config.threads)}));
  service::RegisterApi(*server, *store);
  // OIDC trust: CI jobs exchange their ID tokens for project tokens (service/trust_api.h).
  service::RegisterTrustApi(*server, *store,
                            std::make_shared<oidc::HttpKeySource>(oidc::HttpKeySource::Options{
                                .allow_http_loopback = config.oidc_allow_http_loopback}),
                            {.allow_http_loopback = config.oidc_allow_http_loopback});
  // The builder's engine state (images, cache, snapshots) lives in ROOT/builder; base images
  // resolve there first, then through ROOT/builder/config.toml's registry mirrors.
  service::Builder builder(*store, {.root = config.root + "/builder",
                                    .max_concurrent = static_cast<size_t>(config.builds),
                                    .runtime = config.runtime});
  service::RegisterUsageApi(*server, *store, builder.root());
  // The registry keeps its blobs in the builder's content store: what a build made is already
  // there (docs/decisions/0006-registry-server.md).
  std::unique_ptr<content::LocalStore> blobs = BERTH_TRY_CONTEXT(
      content::LocalStore::Open(config.root + "/builder/content"), "opening the content store");
  std::unique_ptr<registryserver::Registry> registry =
      BERTH_TRY_CONTEXT(registryserver::Registry::Create(*store, *blobs,
                                                         {.root = config.root,
                                                          .external_url = config.registry_url,
                                                          .tls = !config.tls_cert.empty()}),
                        "starting the registry");
  registry->Register(*server);
  registryserver::RegisterSavedApi(*server, *store, *registry,
                                   {.builder_root = config.root + "/builder"});
  // A saved build (`berth build --save`) is the builder's image, recorded in the registry.
  service::RegisterRemoteBuilds(
      *server, *store, builder,
      {.root = config.root,
       .save = [&registry](const Context& c, const std::string& project_id,
                           const std::string& repository, const std::string& digest,
                           const std::vector<std::string>& tags) {
         return registry->Save(c, project_id, repository, digest, tags);
       }});
  BERTH_TRY_CONTEXT(server->Start(), "listening on " + config.listen);
  std::printf("berthd: listening on %s://%s:%d\n", config.tls_cert.empty() ? "http" : "https",
              host.c_str(), server->port());
  std::fflush(stdout);

  // Retention of saved builds: at start, then hourly (registryserver/saved.h).
  std::mutex expiry_mu;
  std::condition_variable expiry_cv;
  bool stopping = false;
  std::thread expiry([&] {
    std::unique_lock lock(expiry_mu);
    while (!stopping) {
      lock.unlock();
      Result<registryserver::ExpiryStats> expired = registryserver::ExpireAll(
          Context::Background(), *store, *registry, std::chrono::system_clock::now());
      if (!expired.ok()) {
        std::fprintf(stderr, "berthd: expiring saved builds: %s\n",
                     expired.error().ToString().c_str());
      } else if (expired->tags > 0 || expired->manifests > 0 || expired->blobs > 0) {
        std::fprintf(
            stderr,
            "berthd: expired %lld saved image tag(s), %lld manifest(s), %lld blob "
            "link(s); %lld blob(s) released\n",
            static_cast<long long>(expired->tags), static_cast<long long>(expired->manifests),
            static_cast<long long>(expired->blobs), static_cast<long long>(expired->released));
      }
      // Then the bytes no one keeps any more (skipped while a build runs: next time).
      Result<engine::BlobCollection> collected =
          engine::CollectBlobs(Context::Background(), config.root + "/builder");
      if (!collected.ok()) {
        std::fprintf(stderr, "berthd: collecting unused blobs: %s\n",
                     collected.error().ToString().c_str());
      } else if (collected->blobs > 0) {
        std::fprintf(stderr, "berthd: deleted %lld unused blob(s), %lld bytes\n",
                     static_cast<long long>(collected->blobs),
                     static_cast<long long>(collected->bytes));
      }
      lock.lock();
      expiry_cv.wait_for(lock, std::chrono::hours(1), [&] { return stopping; });
    }
  });

  int sig = 0;
  sigwait(&signals, &sig);
  {
    std::lock_guard lock(expiry_mu);
    stopping = true;
  }
  expiry_cv.notify_all();
  expiry.join();
  std::fprintf(stderr, "berthd: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server->Stop();
  return {};
}

int Run(int argc, char** argv) {
  CLI::App app{"berthd: the berth build service (API, remote builds, build records)", "berthd"};
  app.set_version_flag("--version", BERTH_VERSION);
  Config config;
  std::string config_file;
  app.add_option("--listen", config.listen, "Address to listen on (HOST:PORT)")
      ->default_str(config.listen);
  app.add_option("--root", config.root, "State directory (cache, contexts, database)")
      ->default_str(config.root);
  app.add_option("--database", config.database,
                 "Metadata database: sqlite:///path.db (default: ROOT/berthd.db) or "
                 "postgres://user:pass@host:port/db");
  app.add_option("--tls-cert", config.tls_cert, "TLS certificate (PEM); with --tls-key");
  app.add_option("--tls-key", config.tls_key, "TLS private key (PEM)");
  app.add_option("--registry-url", config.registry_url,
                 "How registry clients reach berthd, e.g. https://berth.example.com (the token "
                 "realm; default: the address each client used)");
  app.add_option("--threads", config.threads, "HTTP worker threads")->check(CLI::Range(1, 1024));
  app.add_option("--builds", config.builds, "Builds running at once (more wait, queued)")
      ->check(CLI::Range(1, 256));
  app.add_option("--runtime", config.runtime,
                 "OCI runtime for RUN: runc (default), crun, or a path to either");
  app.add_flag("--oidc-allow-http-loopback", config.oidc_allow_http_loopback,
               "Let trust policies name plain-http OIDC issuers on loopback (for tests)");
  app.add_option("--config", config_file, "TOML config file (keys as the flags, with _)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (!config_file.empty()) {
    if (Result<> r = LoadConfig(config_file, config, app); !r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
      return kExitUsage;
    }
  }
  if (Result<> r = Serve(config); !r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
    return r.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  return 0;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) {
  return berth::Run(argc, argv);
}
