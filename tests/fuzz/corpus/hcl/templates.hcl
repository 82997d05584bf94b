a = "x %{ for i, v in ["a", "b"] ~} ${i}=${v} %{~ endfor } y"
b = "%{if true}yes%{else}no%{endif} $${literal} %%{literal}"
c = <<EOT
heredoc ${1 + 1}
  line
EOT
d = [{a = [1, 2]}, {a = [3]}][*].a[0]
e = try(jsondecode("{\"k\": [1, 2.5, null]}").k, [])
f = regex("^(?P<major>\\d+)\\.(?P<minor>\\d+)", "1.22.3")
g = formatdate("YYYY-MM-DD'T'hh:mm:ssZ", timeadd("2024-01-01T00:00:00Z", "90m"))
h = cidrsubnets("10.0.0.0/16", 4, 8, 4)
i = semvercmp("1.2.3", ">= 1.0, < 2")
j = merge({a = 1}, {b = "2"}, null)
k = setproduct(["a", "b"], [1, 2])
l = sha256(base64encode(format("%05.1f|%-3s|%x", 3.14159, "a", 255)))
