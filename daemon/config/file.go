package config

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/credd-dev/credd/daemon/regularfile"
)

// fileConfig is a parsed config file: top-level keys (daemon settings and
// the default role), and one table per named role under [roles.NAME].
type fileConfig struct {
	top   map[string]string
	roles map[string]map[string]string
}

// loadFile reads a TOML config file. Keys are the flag names with '_' for
// '-' (role_arn, token_source, ...); unknown keys are errors, so a typo
// does not silently fall back to a default.
//
// It reads through regularfile, so a FIFO or a device at path cannot block
// a start or a reload, and a huge file cannot fill memory.
func loadFile(path string) (*fileConfig, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loadFileTimeout)
	defer cancel()
	data, fi, err := regularfile.Read(ctx, path, regularfile.Options{Max: maxConfigFile})
	switch {
	case errors.Is(err, regularfile.ErrNotRegular) && fi != nil:
		return nil, fmt.Errorf("config file %s is %s, not a regular file: point at a regular file; credd does not read pipes or devices", path, regularfile.Kind(fi.Mode()))
	case errors.Is(err, regularfile.ErrTooLarge):
		return nil, fmt.Errorf("config file %s is larger than %d bytes: is it the right file?", path, maxConfigFile)
	case err != nil:
		return nil, fmt.Errorf("config file: %w", err)
	}
	return parseFile(path, string(data))
}

// maxConfigFile bounds a config file: a few settings and roles take a
// few KiB.
const maxConfigFile = 1 << 20

// loadFileTimeout bounds loadFile's read, should its file system hang.
const loadFileTimeout = 5 * time.Second

func parseFile(path, data string) (*fileConfig, error) {
	var raw map[string]any
	if _, err := toml.Decode(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	f := &fileConfig{top: map[string]string{}, roles: map[string]map[string]string{}}
	for k, v := range raw {
		if k == "roles" {
			tables, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("config file %s: roles must be tables such as [roles.prod]", path)
			}
			for name, t := range tables {
				table, ok := t.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("config file %s: roles.%s must be a table", path, name)
				}
				vals, err := flatten(path, "roles."+name+".", table, roleKeys())
				if err != nil {
					return nil, err
				}
				f.roles[name] = vals
			}
			continue
		}
		vals, err := flatten(path, "", map[string]any{k: v}, append(roleKeys(), daemonKeys()...))
		if err != nil {
			return nil, err
		}
		for kk, vv := range vals {
			f.top[kk] = vv
		}
	}
	return f, nil
}

func flatten(path, prefix string, table map[string]any, allowed []string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range table {
		name := strings.ReplaceAll(k, "_", "-")
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("config file %s: unknown key %s%s (known: %s)", path, prefix, k, strings.ReplaceAll(strings.Join(allowed, ", "), "-", "_"))
		}
		switch val := v.(type) {
		case string:
			out[name] = val
		case int64, bool:
			out[name] = fmt.Sprint(val)
		default:
			return nil, fmt.Errorf("config file %s: %s%s must be a string", path, prefix, k)
		}
	}
	return out, nil
}

func roleKeys() []string {
	keys := make([]string, len(roleSettings))
	for i, s := range roleSettings {
		keys[i] = s.name
	}
	return keys
}

func daemonKeys() []string {
	var keys []string
	for _, s := range daemonSettings {
		// keep-token is a supervisor's call for one start, not a setting
		// to keep in a file.
		if s.name != "config" && s.name != "defaults-file" && s.name != "keep-token" {
			keys = append(keys, s.name)
		}
	}
	return keys
}
