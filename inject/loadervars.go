package inject

import "strings"

// loaderVariables are the variables [[env_from]] never sets from a
// listing: each decides which program runs or what code is loaded into
// it, so one parameter added under a path (or one key added to a secret)
// could take the child over, and shroud itself, which finds the command
// in the child's PATH. A config that means to set one names it in
// [[secrets]] or with --secret. README ("env_from") lists them; keep both
// in step.
var loaderVariables = map[string]bool{
	// Where programs are found.
	"PATH": true,
	// glibc's list of variables the loader removes for setuid programs
	// (sysdeps/generic/unsecvars.h), the LD_ ones aside (loaderPrefixes).
	"GCONV_PATH": true, "GETCONF_DIR": true, "GLIBC_TUNABLES": true, "HOSTALIASES": true,
	"LOCALDOMAIN": true, "LOCPATH": true, "MALLOC_TRACE": true, "NIS_PATH": true, "NLSPATH": true,
	"RESOLV_HOST_CONF": true, "RES_OPTIONS": true, "TMPDIR": true, "TZDIR": true,
	// Shells: files read at start, options, how words and paths are split.
	"BASH_ENV": true, "ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "PS4": true, "IFS": true, "CDPATH": true,
	// Interpreters and runtimes: modules loaded and options given at start.
	"NODE_OPTIONS": true, "NODE_PATH": true,
	"PYTHONPATH": true, "PYTHONHOME": true, "PYTHONSTARTUP": true, "PYTHONUSERBASE": true,
	"PYTHONWARNINGS": true, "PYTHONBREAKPOINT": true,
	"PERL5LIB": true, "PERLLIB": true, "PERL5OPT": true, "PERL5DB": true,
	"RUBYOPT": true, "RUBYLIB": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true, "CLASSPATH": true,
	"PHPRC": true, "PHP_INI_SCAN_DIR": true,
	// Libraries that load modules, and programs that run helpers, named by
	// a variable.
	"OPENSSL_CONF": true, "OPENSSL_ENGINES": true, "OPENSSL_MODULES": true,
	"GIT_EXEC_PATH": true, "GIT_SSH": true, "GIT_SSH_COMMAND": true, "GIT_ASKPASS": true, "SSH_ASKPASS": true,
}

// loaderPrefixes begin whole families: every variable of the dynamic
// loaders (glibc's and musl's LD_, macOS dyld's DYLD_) and Lua's start-up
// code and module paths, versioned or not (LUA_INIT_5_4).
var loaderPrefixes = []string{"LD_", "DYLD_", "LUA_INIT", "LUA_PATH", "LUA_CPATH"}

// loaderVariable reports whether env_from must not set name.
func loaderVariable(name string) bool {
	if loaderVariables[name] {
		return true
	}
	for _, p := range loaderPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
