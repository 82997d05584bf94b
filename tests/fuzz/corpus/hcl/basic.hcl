# A typical bake file.
variable "TAG" { default = "latest" }
variable "REPO" {
  type = string
  default = "org/app"
  description = "image repository"
}
group "default" {
  targets = ["app", "db"]
}
target "base" {
  context = "."
  args = { GO_VERSION = "1.22", N = 1 + 2 * 3 }
}
target "app" {
  inherits = ["base"]
  tags = ["${REPO}:${TAG}", "${REPO}:${upper(TAG)}"]
  platforms = [for p in ["amd64", "arm64"] : "linux/${p}"]
  labels = { "org.opencontainers.image.source" = "https://example.com" }
}
target "db" {
  dockerfile-inline = <<-EOT
    FROM alpine
    RUN echo ${TAG}
  EOT
  tags = target.app.tags
}
