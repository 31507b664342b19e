package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/internal/bounded"
	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
)

// ecsContainer is what shroud takes from one container of an Amazon ECS
// task definition: its secrets and plain environment, so a task definition
// runs unchanged under shroud.
type ecsContainer struct {
	secrets     []EnvVar
	environment map[string]string
	// log is the container's logConfiguration, when shroud has its driver.
	log *Log
}

// ecsTaskDefinition accepts both the register-task-definition input and the
// describe-task-definition output, which wraps it in "taskDefinition".
type ecsTaskDefinition struct {
	TaskDefinition       *ecsTaskDefinition `json:"taskDefinition"`
	ContainerDefinitions []struct {
		Name        string `json:"name"`
		Environment []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"environment"`
		Secrets []struct {
			Name      string `json:"name"`
			ValueFrom string `json:"valueFrom"`
		} `json:"secrets"`
		EnvironmentFiles []json.RawMessage `json:"environmentFiles"`
		LogConfiguration *ecsLog           `json:"logConfiguration"`
	} `json:"containerDefinitions"`
}

// maxTaskDefinitionSize bounds a task definition file (ECS itself takes
// at most 64 KiB).
const maxTaskDefinitionSize = 4 << 20

// loadECS reads the container named container from a task definition JSON
// file. The name may be empty when there is one container.
func loadECS(path, container string) (*ecsContainer, error) {
	data, err := readBounded(path, "ECS task definition", maxTaskDefinitionSize)
	if err != nil {
		return nil, err
	}
	if err := bounded.CheckJSON(data); err != nil {
		return nil, fmt.Errorf("%s: not an ECS task definition: %w", path, err)
	}
	var td ecsTaskDefinition
	if err := json.Unmarshal(data, &td); err != nil {
		return nil, fmt.Errorf("%s: not an ECS task definition: %v", path, err)
	}
	if td.TaskDefinition != nil {
		td = *td.TaskDefinition
	}
	var names []string
	for _, c := range td.ContainerDefinitions {
		names = append(names, c.Name)
	}
	idx := -1
	for i, c := range td.ContainerDefinitions {
		if c.Name == container || container == "" && len(td.ContainerDefinitions) == 1 {
			idx = i
		}
	}
	if idx < 0 {
		if container == "" {
			return nil, fmt.Errorf("%s: the task definition has %d containers (%s); choose one with --container", path, len(names), strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("%s: no container %q in the task definition (it has: %s)", path, container, strings.Join(names, ", "))
	}
	def := td.ContainerDefinitions[idx]
	at := fmt.Sprintf("%s container %q", path, def.Name)
	if len(def.EnvironmentFiles) > 0 {
		return nil, fmt.Errorf("%s: environmentFiles (S3 objects) are not supported; move those variables to secrets or environment", at)
	}
	c := &ecsContainer{environment: map[string]string{}}
	var errs *multierror.Error
	for _, e := range def.Environment {
		errs = multierror.Append(errs, refuseAccessKey(at+" environment", e.Name))
		c.environment[e.Name] = e.Value
	}
	for i, s := range def.Secrets {
		origin := fmt.Sprintf("%s secrets[%d]", at, i)
		ok := sources.ValidEnvName(s.Name)
		if !ok {
			errs = multierror.Append(errs, fmt.Errorf("%s: %q is not a valid environment variable name", origin, s.Name))
		}
		ref, err := parseRef(s.ValueFrom)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s (%s): %v", origin, s.Name, err))
		} else if ok {
			c.secrets = append(c.secrets, EnvVar{Name: s.Name, Ref: anchor(ref, ""), Origin: origin, Kind: BoundInConfig})
		}
	}
	if l := def.LogConfiguration; l != nil {
		if _, ok := logdriver.KnownOptions(l.Driver); ok {
			var err error
			c.log, err = l.build(at)
			errs = multierror.Append(errs, err)
		} else {
			// awslogs, awsfirelens, journald...: ECS itself ships those logs.
			slog.Warn("the task definition's log driver is not one shroud has; the child writes to shroud's stdout and stderr",
				"container", def.Name, "logDriver", l.Driver, "drivers", strings.Join(logdriver.Drivers, ", "))
		}
	}
	if err := ListErrors(errs); err != nil {
		return nil, err
	}
	return c, nil
}
