variable "FOO" {
  type = list(number)
  default = [1, 2]
  validation {
    condition = length(FOO) > 0
    error_message = "FOO must not be empty"
  }
}
variable "BAR" { type = tuple([string, number]) }
variable "OBJ" {
  type = object({ name = string, ports = list(number), opt = optional(bool) })
  default = { name = "x", ports = [80] }
}
function "tag" {
  params = [name]
  variadic_params = rest
  result = "${name}:${join("-", rest)}"
}
target "t" {
  args = {
    a = join(",", [for v in FOO : v + 1 if v > 0])
    b = tag("img", "1", "2")
    c = OBJ.ports[0]
    d = {for k, v in {x = 1, y = 2} : v => k...}
    e = BAR == null ? "none" : BAR[0]
  }
}
