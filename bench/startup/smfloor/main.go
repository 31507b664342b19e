// Command smfloor is the SDK floor of a Secrets Manager start-up: what any
// Go program pays to read secrets with aws-sdk-go-v2 (the module versions
// shroud uses) and exec. It loads the default configuration, makes one
// client, reads up to 20 secrets in one BatchGetSecretValue call, puts each
// value in the environment under the secret name's last element in
// capitals (bench/s00 is S00) and execs the command.
//
//	smfloor ID... -- COMMAND [ARG...]
package main

import (
	"context"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	sep := slices.Index(os.Args, "--")
	ids, argv := os.Args[1:sep], os.Args[sep+1:]
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	check(err)
	client := secretsmanager.NewFromConfig(cfg)
	out, err := client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids})
	check(err)
	if len(out.Errors) > 0 || len(out.SecretValues) != len(ids) {
		check(&os.PathError{Op: "BatchGetSecretValue", Path: strings.Join(ids, ","), Err: os.ErrNotExist})
	}
	env := os.Environ()
	for _, s := range out.SecretValues {
		env = append(env, strings.ToUpper(path.Base(*s.Name))+"="+*s.SecretString)
	}
	check(syscall.Exec(argv[0], argv, env))
}

func check(err error) {
	if err != nil {
		os.Stderr.WriteString("smfloor: " + err.Error() + "\n")
		os.Exit(1)
	}
}
