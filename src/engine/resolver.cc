#include "engine/resolver.h"

#include <utility>

#include "digest/digest.h"
#include "oci/media_types.h"
#include "oci/platform.h"
#include "reference/reference.h"
#include "registry/client.h"
#include "registry/transfer.h"

namespace berth::engine {

namespace convert = frontend::dockerfile::convert;

convert::ImageConfig ToConvertConfig(const oci::ImageConfig& image) {
  const oci::ContainerConfig& c = image.config;
  convert::ImageConfig out;
  out.env = c.env;
  out.cmd = c.cmd;
  out.entrypoint = c.entrypoint;
  out.shell = c.shell;
  out.user = c.user;
  out.working_dir = c.working_dir;
  out.stop_signal = c.stop_signal;
  out.author = image.author;
  out.labels = c.labels;
  out.exposed_ports.assign(c.exposed_ports.begin(), c.exposed_ports.end());
  out.volumes.assign(c.volumes.begin(), c.volumes.end());
  if (c.healthcheck) {
    out.healthcheck = convert::Healthcheck{.test = c.healthcheck->test,
                                           .interval = c.healthcheck->interval,
                                           .timeout = c.healthcheck->timeout,
                                           .start_period = c.healthcheck->start_period,
                                           .start_interval = c.healthcheck->start_interval,
                                           .retries = static_cast<int>(c.healthcheck->retries)};
  }
  out.on_build = c.on_build;
  for (const oci::History& h : image.history) {
    out.history.push_back({h.created_by, h.comment, h.empty_layer});
  }
  out.platform = image.platform();
  return out;
}

Result<LoadedImage> LoadImage(const Context& ctx, content::Store& store, const std::string& name,
                              const oci::Descriptor& root, const platform::Platform& platform) {
  LoadedImage out;
  out.name = name;
  out.manifest_desc = root;
  std::string data = BERTH_TRY(content::ReadBlob(ctx, store, root.digest));
  if (root.media_type == oci::kMediaTypeImageIndex ||
      root.media_type == oci::kMediaTypeDockerManifestList) {
    oci::Index index = BERTH_TRY_CONTEXT(oci::ParseIndex(data), "image " + name);
    oci::PlatformMatcher matcher = oci::PlatformMatcher::Compatible(platform);
    const oci::Descriptor* chosen = nullptr;
    for (const oci::Descriptor& d : index.manifests) {
      if (!d.platform || matcher.Match(*d.platform)) {
        chosen = &d;
        break;
      }
    }
    if (chosen == nullptr) {
      return Error::NotFound("image " + name + " has no manifest for " + platform.ToString());
    }
    out.manifest_desc = *chosen;
    data = BERTH_TRY(content::ReadBlob(ctx, store, chosen->digest));
  }
  out.manifest = BERTH_TRY_CONTEXT(oci::ParseManifest(data), "image " + name);
  std::string config = BERTH_TRY_CONTEXT(content::ReadBlob(ctx, store, out.manifest.config.digest),
                                         "image " + name + " config");
  out.config = BERTH_TRY_CONTEXT(oci::ParseImageConfig(config), "image " + name);
  return out;
}

std::string ProjectImageName(const std::string& project, const std::string& normalized) {
  if (project.empty()) {
    return normalized;
  }
  // The name's hash: any name (a registry with a port, IPv6) makes a valid reference.
  return "projects.berth.invalid/" + project + "/" + digest::FromBytes(normalized).hex() +
         ":latest";
}

Result<LoadedImage> StoreResolver::Load(const std::string& reference,
                                        const graph::Platform& platform) const {
  std::string cache_key = reference + " " + platform.ToString();
  {
    std::lock_guard lock(mu_);
    if (auto it = loaded_.find(cache_key); it != loaded_.end()) {
      return it->second;
    }
  }
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(reference));
  LoadedImage loaded;
  if (!ref.digest.empty()) {
    // Pinned: the content store may hold it (a previous resolution pulled it) under any name.
    Result<digest::Digest> d = digest::Digest::Parse(ref.digest);
    if (d.ok()) {
      Result<content::Info> info = content_.Info(ctx_, *d);
      if (info.ok()) {
        std::string data = BERTH_TRY(content::ReadBlob(ctx_, content_, *d));
        std::string media_type(oci::kMediaTypeImageManifest);
        if (data.find("\"manifests\"") != std::string::npos) {
          media_type = std::string(oci::kMediaTypeImageIndex);
        }
        oci::Descriptor root{
            .media_type = media_type, .digest = *d, .size = static_cast<int64_t>(info->size)};
        loaded = BERTH_TRY(LoadImage(ctx_, content_, ref.String(), root, platform));
      }
    }
  }
  if (loaded.name.empty()) {
    std::string name = ref.String();
    Result<images::Image> stored = Error::NotFound("--pull");
    if (!pull_ && !project_.empty()) {
      stored = images_.Get(ctx_, ProjectImageName(project_, name));
    }
    if (!pull_ && !stored.ok() && stored.error().code() == ErrorCode::kNotFound) {
      stored = images_.Get(ctx_, name);
    }
    if (stored.ok()) {
      loaded = BERTH_TRY(LoadImage(ctx_, content_, name, stored->target, platform));
    } else if (stored.error().code() != ErrorCode::kNotFound) {
      return std::move(stored).error();
    } else {
      std::unique_ptr<registry::Client> client =
          BERTH_TRY(registry::Client::FromEnvironment(root_));
      registry::PullResult pulled = BERTH_TRY_CONTEXT(
          registry::Pull(ctx_, *client, ref, oci::PlatformMatcher::Compatible(platform), content_),
          "pulling " + ref.Familiar());
      if (ref.digest.empty()) {
        BERTH_TRY(images_.Put(ctx_, name, pulled.root));
      }
      loaded = BERTH_TRY(LoadImage(ctx_, content_, name, pulled.manifest, platform));
    }
  }
  std::lock_guard lock(mu_);
  loaded_[cache_key] = loaded;
  return loaded;
}

Result<StoreResolver::Resolved> StoreResolver::Resolve(const std::string& reference,
                                                       const graph::Platform& platform) const {
  LoadedImage image = BERTH_TRY(Load(reference, platform));
  Resolved out;
  out.reference = image.name;
  out.digest = image.manifest_desc.digest.ToString();
  out.config = ToConvertConfig(image.config);
  return out;
}

}  // namespace berth::engine
