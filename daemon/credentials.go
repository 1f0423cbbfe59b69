// Package daemon holds credd's domain types: credentials, identity-token
// claims, classified errors and the status document. It imports nothing of
// credd's own and no AWS SDK, so every other package can depend on it.
package daemon

import "time"

// ExpirationLayout is the one Expiration format every SDK accepts
// (SDK-COMPAT.md rule 8): RFC 3339, UTC, second precision, literal Z.
const ExpirationLayout = "2006-01-02T15:04:05Z"

// Credentials are one set of temporary AWS credentials from STS.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expiration is the real STS expiry; credd never extends it.
	Expiration time.Time

	// RoleARN is the role that was asked for.
	RoleARN string
	// AssumedRoleARN is what STS answered, e.g.
	// arn:aws:sts::123456789012:assumed-role/dev/alice.
	AssumedRoleARN string
	// AccountID is the account of the assumed role.
	AccountID string
	// Obtained is when credd received them.
	Obtained time.Time
}

// ValidAt reports whether the credentials can still be served at now.
func (c *Credentials) ValidAt(now time.Time) bool {
	return c != nil && c.AccessKeyID != "" && now.Before(c.Expiration)
}

// Lifetime is the span STS granted, from receipt to expiry.
func (c *Credentials) Lifetime() time.Duration {
	return c.Expiration.Sub(c.Obtained)
}
