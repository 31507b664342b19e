module github.com/shroud-dev/shroud

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/Graylog2/go-gelf v0.0.0-20191017102106-1550ee647df0
	github.com/docker/go-units v0.5.0
	github.com/fluent/fluent-logger-golang v1.10.2
	github.com/hashicorp/go-multierror v1.1.1
	github.com/tinylib/msgp v1.3.0
	github.com/urfave/cli/v2 v2.27.7
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/hashicorp/errwrap v1.0.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
)
