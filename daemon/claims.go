package daemon

import "time"

// Claims are the identity token's claims that matter to credd, read without
// the signature (STS verifies it; credd checks locally only to give a
// precise error early).
type Claims struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  []string  `json:"aud"`
	Expiry    time.Time `json:"exp"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	NotBefore time.Time `json:"nbf,omitzero"`
	// Extra holds the string claims beyond the registered ones, such as
	// GitHub's repository, actor, ref, environment, repository_owner.
	Extra map[string]string `json:"extra,omitempty"`
}
