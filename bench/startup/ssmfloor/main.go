// Command ssmfloor is the SDK floor of an SSM start-up: what any Go
// program pays to read parameters with aws-sdk-go-v2 (the module versions
// shroud uses) and exec. It loads the default configuration, makes one
// client, reads the names in GetParameters calls of ten (decrypted), all at
// once, puts each value in the environment under the name's last element
// in capitals (/bench/p00 is P00) and execs the command.
//
//	ssmfloor NAME... -- COMMAND [ARG...]
package main

import (
	"context"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	sep := slices.Index(os.Args, "--")
	names, argv := os.Args[1:sep], os.Args[sep+1:]
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	check(err)
	client := ssm.NewFromConfig(cfg)

	var (
		mu  sync.Mutex
		env = os.Environ()
		wg  sync.WaitGroup
	)
	for batch := range slices.Chunk(names, 10) {
		wg.Go(func() {
			out, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(true)})
			check(err)
			if len(out.InvalidParameters) > 0 {
				check(&os.PathError{Op: "GetParameters", Path: out.InvalidParameters[0], Err: os.ErrNotExist})
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range out.Parameters {
				env = append(env, strings.ToUpper(path.Base(*p.Name))+"="+*p.Value)
			}
		})
	}
	wg.Wait()
	check(syscall.Exec(argv[0], argv, env))
}

func check(err error) {
	if err != nil {
		os.Stderr.WriteString("ssmfloor: " + err.Error() + "\n")
		os.Exit(1)
	}
}
