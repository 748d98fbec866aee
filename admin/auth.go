package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// ErrUnauthenticated is what the ready-made authorizers' errors wrap when
// a request carries no credentials, or wrong ones.
var ErrUnauthenticated = errors.New("admin: missing or wrong credentials")

// AuthError is an authorizer's refusal that asks the client for
// credentials: the handler answers 401 with Challenge as WWW-Authenticate
// (a browser then asks its user), rather than 403.
type AuthError struct {
	Challenge string // the WWW-Authenticate value: `Basic realm="admin"`
	Err       error
}

// Error returns the refusal's text.
func (e *AuthError) Error() string { return e.Err.Error() }

// Unwrap returns the refusal's cause.
func (e *AuthError) Unwrap() error { return e.Err }

// Authorizer names who asks by a request, or refuses it with an error:
// the type of Options.Authorize.
type Authorizer = func(r *http.Request) (requester string, err error)

// credential is one secret, hashed so that every comparison takes the
// same time whatever its length, and the name it stands for.
type credential struct {
	name, secret [sha256.Size]byte
	who          string
}

// constantTimeEqual compares two hashes; a test counts its calls.
var constantTimeEqual = subtle.ConstantTimeCompare

// match returns the name of the credential of creds whose name and secret
// hash as name and secret do, comparing every credential in full (no early
// exit, hashes of one length), so that the time taken says nothing of how
// close a guess came. Bearer tokens match on the secret alone (byName
// false).
func match(creds []credential, name, secret string, byName bool) (string, bool) {
	hn, hs := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(secret))
	found := -1
	for i := range creds {
		ok := constantTimeEqual(hs[:], creds[i].secret[:])
		if byName {
			ok &= constantTimeEqual(hn[:], creds[i].name[:])
		}
		found = subtle.ConstantTimeSelect(ok, i, found)
	}
	if found < 0 {
		return "", false
	}
	return creds[found].who, true
}

// BearerTokens returns an authorizer that takes requests bearing one of
// tokens (Authorization: Bearer <token>); the requester is the token's
// name, tokens mapping each token to it. It returns an error wrapping
// ErrInvalidOptions for no tokens, an empty token or an empty name. A
// browser does not send a bearer token by itself: for the page's buttons,
// see [BasicAuth].
func BearerTokens(tokens map[string]string) (Authorizer, error) {
	creds := make([]credential, 0, len(tokens))
	for tok, who := range tokens {
		if tok == "" || strings.TrimSpace(who) == "" {
			return nil, fmt.Errorf("%w: BearerTokens: an empty token or name", ErrInvalidOptions)
		}
		creds = append(creds, credential{secret: sha256.Sum256([]byte(tok)), who: who})
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("%w: BearerTokens: no tokens", ErrInvalidOptions)
	}
	const challenge = `Bearer realm="supervisor admin"`
	return func(r *http.Request) (string, error) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", &AuthError{Challenge: challenge, Err: fmt.Errorf("%w: want Authorization: Bearer <token>", ErrUnauthenticated)}
		}
		who, ok := match(creds, "", strings.TrimSpace(tok), false)
		if !ok {
			return "", &AuthError{Challenge: challenge + `, error="invalid_token"`, Err: fmt.Errorf("%w: unknown token", ErrUnauthenticated)}
		}
		return who, nil
	}, nil
}

// BasicAuth returns an authorizer that takes requests with HTTP basic
// credentials of users (a user name mapped to its password); the
// requester is the user's name. A browser asks its user for them when the
// page's "sign in" (GET /login) or a command gets the 401 challenge, and
// then sends them with the page's commands: the buttons work as they are.
// Serve it over TLS, or on a loopback port only: basic credentials travel
// in the clear. It returns an error wrapping ErrInvalidOptions for no
// users, an empty user name, a name holding a colon, or an empty password.
func BasicAuth(users map[string]string) (Authorizer, error) {
	creds := make([]credential, 0, len(users))
	for user, pass := range users {
		if strings.TrimSpace(user) == "" || strings.Contains(user, ":") || pass == "" {
			return nil, fmt.Errorf("%w: BasicAuth: an empty user name or password, or a name with a colon", ErrInvalidOptions)
		}
		creds = append(creds, credential{name: sha256.Sum256([]byte(user)), secret: sha256.Sum256([]byte(pass)), who: user})
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("%w: BasicAuth: no users", ErrInvalidOptions)
	}
	const challenge = `Basic realm="supervisor admin", charset="UTF-8"`
	return func(r *http.Request) (string, error) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", &AuthError{Challenge: challenge, Err: fmt.Errorf("%w: sign in (HTTP basic authentication)", ErrUnauthenticated)}
		}
		who, ok := match(creds, user, pass, true)
		if !ok {
			return "", &AuthError{Challenge: challenge, Err: fmt.Errorf("%w: wrong user name or password", ErrUnauthenticated)}
		}
		return who, nil
	}, nil
}

// BasicAuthFromEnv is BasicAuth for one user, whose password is the value
// of the environment variable env or, when that is unset or empty, a
// random one (crypto/rand) made here. It also returns what a program may
// log to say how to sign in: "$" + env for a password from the
// environment, which stays out of logs, or the random password itself.
func BasicAuthFromEnv(user, env string) (auth Authorizer, shown string, err error) {
	password, shown := os.Getenv(env), "$"+env
	if password == "" {
		password = rand.Text()
		shown = password
	}
	auth, err = BasicAuth(map[string]string{user: password})
	return auth, shown, err
}

// ErrInvalidOptions is what an error of a constructor of this package
// wraps when its arguments are unusable.
var ErrInvalidOptions = errors.New("admin: invalid options")

// login serves GET /login: with credentials the authorizer takes, a
// redirect to the page; without, its challenge (401), so that a browser
// asks its user and then sends them with the page's commands.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if _, code, err := h.authorize(r); err != nil {
		h.refuse(w, code, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "./", http.StatusSeeOther)
}

// refuse answers a request the authorizer refused with code, or with 401
// and its challenge.
func (h *handler) refuse(w http.ResponseWriter, code int, err error) {
	if ae := (*AuthError)(nil); errors.As(err, &ae) && ae.Challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.Challenge)
		code = http.StatusUnauthorized
	}
	writeError(w, code, err.Error())
}
