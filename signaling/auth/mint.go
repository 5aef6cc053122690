package auth

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs an HS256 token for c, valid from now for ttl: it sets sub, name, role,
// sessions (only when c.Sessions is non-nil), iat and exp. When ttl is zero or
// negative, c.ExpiresAt is used as exp instead. It is what `earshot token` and the
// tests use; production deployments usually mint tokens elsewhere.
func Mint(secret []byte, c Claims, ttl time.Duration) (string, error) {
	return MintWith(secret, c, ttl, MintOptions{})
}

// MintOptions are what a daemon's auth configuration may require of a token
// beyond Mint's claims.
type MintOptions struct {
	Algorithm string // HS256 (default), HS384 or HS512
	Issuer    string // the iss claim, when set
	Audience  string // the aud claim, when set
}

// HMACAlgorithm returns the first of algs that MintWith can sign with (HS256,
// HS384, HS512), or "" when there is none.
func HMACAlgorithm(algs []string) string {
	for _, a := range algs {
		switch a {
		case "HS256", "HS384", "HS512":
			return a
		}
	}
	return ""
}

// MintWith is Mint with the algorithm, issuer and audience of o.
func MintWith(secret []byte, c Claims, ttl time.Duration, o MintOptions) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: mint: empty secret")
	}
	if c.Subject == "" {
		return "", errors.New("auth: mint: empty subject")
	}
	var method jwt.SigningMethod
	switch o.Algorithm {
	case "", "HS256":
		method = jwt.SigningMethodHS256
	case "HS384":
		method = jwt.SigningMethodHS384
	case "HS512":
		method = jwt.SigningMethodHS512
	default:
		return "", fmt.Errorf("auth: mint: algorithm %q: want HS256, HS384 or HS512", o.Algorithm)
	}
	now := time.Now()
	exp := now.Add(ttl)
	if ttl <= 0 {
		if c.ExpiresAt.IsZero() {
			return "", errors.New("auth: mint: no ttl and no ExpiresAt")
		}
		exp = c.ExpiresAt
	}
	claims := jwt.MapClaims{
		"sub": c.Subject,
		"iat": now.Unix(),
		"exp": exp.Unix(),
	}
	if c.Name != "" {
		claims["name"] = c.Name
	}
	if c.Role != "" {
		claims["role"] = c.Role
	}
	if c.Sessions != nil {
		claims["sessions"] = c.Sessions
	}
	if o.Issuer != "" {
		claims["iss"] = o.Issuer
	}
	if o.Audience != "" {
		claims["aud"] = o.Audience
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}

// LoadPublicKeyPEM parses the first PEM block of b as a public key: "PUBLIC KEY"
// (PKIX: RSA, ECDSA or Ed25519), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" (the
// certificate's key). Private keys are refused: the daemon only verifies.
func LoadPublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("auth: no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse public key: %w", err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse RSA public key: %w", err)
		}
		return k, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse certificate: %w", err)
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("auth: PEM block %q is not a public key", block.Type)
}

// LoadPublicKeyFile reads a PEM file with LoadPublicKeyPEM.
func LoadPublicKeyFile(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	k, err := LoadPublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return k, nil
}
