variable "TAG" {
  default = "latest"
}

group "default" {
  targets = ["web", "tools"]
}

target "_base" {
  args = {
    GO_VERSION = "1.22"
  }
  platforms = ["linux/amd64"]
}

target "web" {
  inherits = ["_base"]
  tags     = ["example/web:${TAG}"]
  contexts = {
    base = "target:base"
  }
}

target "base" {
  dockerfile = "base.Dockerfile"
}

target "tools" {
  name = "tools-${tool}"
  matrix = {
    tool = ["lint", "test"]
  }
  inherits = ["_base"]
  target   = tool
}
