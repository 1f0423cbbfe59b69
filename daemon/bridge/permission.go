package bridge

import "slices"

// Repository permissions GitHub reports in GET /repos/{owner}/{repo}'s
// "permissions", lowest first
// (https://docs.github.com/en/rest/repos/repos#get-a-repository).
const (
	PermissionPull     = "pull"
	PermissionTriage   = "triage"
	PermissionPush     = "push"
	PermissionMaintain = "maintain"
	PermissionAdmin    = "admin"
	// PermissionNone is what a user without any of them has.
	PermissionNone = "none"
)

// permissionOrder is lowest first.
var permissionOrder = []string{PermissionPull, PermissionTriage, PermissionPush, PermissionMaintain, PermissionAdmin}

// Permissions lists the permission names, lowest first.
func Permissions() []string { return slices.Clone(permissionOrder) }

// PermissionAtLeast reports whether have is want or higher in the order
// pull < triage < push < maintain < admin. An unknown name is below all.
func PermissionAtLeast(have, want string) bool {
	h, w := slices.Index(permissionOrder, have), slices.Index(permissionOrder, want)
	return h >= 0 && w >= 0 && h >= w
}

// highestPermission is the highest permission set in GitHub's map, or
// PermissionNone.
func highestPermission(perms map[string]bool) string {
	for _, p := range slices.Backward(permissionOrder) {
		if perms[p] {
			return p
		}
	}
	return PermissionNone
}
