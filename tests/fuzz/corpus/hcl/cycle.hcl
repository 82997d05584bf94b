target "a" {
  x = target.b.x
}
target "b" {
  x = target.a.x
}
