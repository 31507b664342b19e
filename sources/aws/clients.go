package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ssmAPI and smAPI are the operations shroud calls of an SDK client, as
// method values of one client per service and region.
//
// They stand in for the clients where shroud keeps them, because of what
// the linker keeps: once any code calls a method by name through
// reflection (text/template does, and urfave/cli's help links it), every
// exported method of every type that may reach an interface is kept, and
// a type reaches one through the fields of any other that does (the
// sources are Sources, and they hold the Session). SSM's client has some
// 150 operations, each with its serializers: a Session holding
// *ssm.Client, *secretsmanager.Client and paginators (which take the
// client as an interface) made the binary 7 MB larger.
type ssmAPI struct {
	GetParameters       func(context.Context, *ssm.GetParametersInput, ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	GetParametersByPath func(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	DescribeParameters  func(context.Context, *ssm.DescribeParametersInput, ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
}

type smAPI struct {
	BatchGetSecretValue func(context.Context, *secretsmanager.BatchGetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	GetSecretValue      func(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret      func(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

func newSSMAPI(c *ssm.Client) *ssmAPI {
	return &ssmAPI{GetParameters: c.GetParameters, GetParametersByPath: c.GetParametersByPath, DescribeParameters: c.DescribeParameters}
}

func newSMAPI(c *secretsmanager.Client) *smAPI {
	return &smAPI{BatchGetSecretValue: c.BatchGetSecretValue, GetSecretValue: c.GetSecretValue, DescribeSecret: c.DescribeSecret}
}

// morePages sets the NextToken of a paged call's input to the one of its
// last answer, and reports whether there is another page: a token that is
// neither missing nor empty, as the SDK's paginators (which take the client
// as an interface) decide.
func morePages(in **string, next *string) bool {
	*in = next
	return next != nil && *next != ""
}
