target "web" {
  args = {
    EXTRA = "from-override"
  }
}
