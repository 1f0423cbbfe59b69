package server

import (
	"fmt"
	"regexp"
)

// DefaultRoleName names the default role, served on CredentialsPath (and,
// as an alias, on CredentialsPath/default).
const DefaultRoleName = "default"

// roleName is what a named role may be called: one URL path segment.
var roleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRoleName returns an error unless name may name a role other than the
// default one: the name becomes one segment of the role's path,
// RolePath(name). DefaultRoleName is not such a name: its path is the
// default role's.
func CheckRoleName(name string) error {
	if name == DefaultRoleName {
		return fmt.Errorf("role name %q is not allowed: it names the default role, served on %s; pick another name", name, CredentialsPath)
	}
	if !roleName.MatchString(name) {
		return fmt.Errorf("role name %q is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// RolePath returns the path a role is served on: CredentialsPath for the
// default role ("" or DefaultRoleName), CredentialsPath/<name> for the
// others. It does not check name; see CheckRoleName.
func RolePath(name string) string {
	if name == "" || name == DefaultRoleName {
		return CredentialsPath
	}
	return CredentialsPath + "/" + name
}
