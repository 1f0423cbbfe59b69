package bridge

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// awsTagsClaim carries AWS session tags in a web identity token, in the
// format of
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_adding-assume-role-idp
const awsTagsClaim = "https://aws.amazon.com/tags"

// Session tag keys the bridge sets.
const (
	TagUser       = "github-user"
	TagRepository = "github-repository"
	TagOwner      = "github-owner"
	TagPermission = "github-permission"
)

// identity is what GitHub said about the caller, checked.
type identity struct {
	user       githubUser
	repo       githubRepo
	permission string
	tokenKind  string
}

// awsTags is the value of the awsTagsClaim claim.
type awsTags struct {
	PrincipalTags     map[string][]string `json:"principal_tags"`
	TransitiveTagKeys []string            `json:"transitive_tag_keys"`
}

// claims are the JWT's claims: GitHub Actions' names where one fits
// (actor, repository_owner_id, …), plus the AWS session tags.
type claims struct {
	Issuer               string  `json:"iss"`
	Subject              string  `json:"sub"`
	Audience             string  `json:"aud"`
	IssuedAt             int64   `json:"iat"`
	NotBefore            int64   `json:"nbf"`
	Expiry               int64   `json:"exp"`
	ID                   string  `json:"jti"`
	Actor                string  `json:"actor"`
	ActorID              string  `json:"actor_id"`
	Repository           string  `json:"repository"`
	RepositoryID         string  `json:"repository_id"`
	RepositoryOwner      string  `json:"repository_owner"`
	RepositoryOwnerID    string  `json:"repository_owner_id"`
	RepositoryPermission string  `json:"repository_permission"`
	TokenKind            string  `json:"token_kind"`
	Tags                 awsTags `json:"https://aws.amazon.com/tags"`
}

// claimNames are the claims the discovery document lists.
var claimNames = []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "actor", "actor_id",
	"repository", "repository_id", "repository_owner", "repository_owner_id",
	"repository_permission", "token_kind", awsTagsClaim}

// newClaims builds the claims of a token for id, valid from now for lifetime.
func newClaims(issuer, audience string, id identity, now time.Time, lifetime time.Duration) (claims, error) {
	jti, err := newJTI()
	if err != nil {
		return claims{}, err
	}
	now = now.Truncate(time.Second)
	repo := id.repo
	return claims{
		Issuer:               issuer,
		Subject:              "repo:" + repo.FullName + ":user:" + id.user.Login,
		Audience:             audience,
		IssuedAt:             now.Unix(),
		NotBefore:            now.Unix(),
		Expiry:               now.Add(lifetime).Unix(),
		ID:                   jti,
		Actor:                id.user.Login,
		ActorID:              strconv.FormatInt(id.user.ID, 10),
		Repository:           repo.FullName,
		RepositoryID:         strconv.FormatInt(repo.ID, 10),
		RepositoryOwner:      repo.Owner.Login,
		RepositoryOwnerID:    strconv.FormatInt(repo.Owner.ID, 10),
		RepositoryPermission: id.permission,
		TokenKind:            id.tokenKind,
		Tags: awsTags{
			PrincipalTags: map[string][]string{
				TagUser:       {id.user.Login},
				TagRepository: {repo.FullName},
				TagOwner:      {repo.Owner.Login},
				TagPermission: {id.permission},
			},
			TransitiveTagKeys: []string{TagUser, TagRepository, TagOwner},
		},
	}, nil
}

// newJTI is 128 random bits, base64url.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// signJWT assembles the compact JWS (RFC 7515 section 7.1) of payload with
// an RS256 header naming the signer's kid, and checks the signature against
// the public key before handing it out: a remote signer (KMS) with the
// wrong key must fail here, not at STS.
func signJWT(ctx context.Context, s Signer, payload any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.KeyID()})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := s.Sign(ctx, []byte(input))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	digest := sha256.Sum256([]byte(input))
	if err := rsa.VerifyPKCS1v15(s.Public(), crypto.SHA256, digest[:], sig); err != nil {
		return "", fmt.Errorf("the signature does not verify with the published key %s", s.KeyID())
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
