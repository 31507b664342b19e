package inject

import (
	"slices"
	"strings"
)

// loaderVariables are the variables [[env_from]] never sets from a
// listing: each decides which program runs or what code is loaded into
// it, so one parameter added under a path (or one key added to a secret)
// could take the child over, and shroud itself, which finds the command
// in the child's PATH. A config that means to set one names it in
// [[secrets]] or with --secret. README ("env_from") lists them; keep both
// in step. A slice of constants, not a map: it is static data, with no
// allocation at every start.
var loaderVariables = []string{
	// Where programs are found.
	"PATH",
	// glibc's list of variables the loader removes for setuid programs
	// (sysdeps/generic/unsecvars.h), the LD_ ones aside (loaderPrefixes).
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES",
	"LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH",
	"RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
	// Shells: files read at start, options, how words and paths are split.
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "CDPATH",
	// Interpreters and runtimes: modules loaded and options given at start.
	"NODE_OPTIONS", "NODE_PATH",
	"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE",
	"PYTHONWARNINGS", "PYTHONBREAKPOINT",
	"PERL5LIB", "PERLLIB", "PERL5OPT", "PERL5DB",
	"RUBYOPT", "RUBYLIB",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
	"PHPRC", "PHP_INI_SCAN_DIR",
	// Libraries that load modules, and programs that run helpers, named by
	// a variable.
	"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES",
	"GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS",
}

// loaderPrefixes begin whole families: every variable of the dynamic
// loaders (glibc's and musl's LD_, macOS dyld's DYLD_) and Lua's start-up
// code and module paths, versioned or not (LUA_INIT_5_4).
var loaderPrefixes = []string{"LD_", "DYLD_", "LUA_INIT", "LUA_PATH", "LUA_CPATH"}

// loaderVariable reports whether env_from must not set name.
func loaderVariable(name string) bool {
	if slices.Contains(loaderVariables, name) {
		return true
	}
	for _, p := range loaderPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
