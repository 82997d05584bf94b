variable "" { default = "$+{A}" }
