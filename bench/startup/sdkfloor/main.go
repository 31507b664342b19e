// Command sdkfloor only execs its arguments, like floor, but links the
// cloud SDKs shroud uses and nothing else of shroud. Go runs the package
// init of everything linked before main, whatever main does: this is the
// floor of any one binary that carries these SDKs.
package main

import (
	"os"
	"syscall"

	_ "github.com/alibabacloud-go/kms-20160120/v3/client"
	_ "github.com/aliyun/credentials-go/credentials"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	panic(err)
}
