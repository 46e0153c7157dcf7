// Package auth decides who may use the web UI: password and router-login
// checks, sessions with CSRF tokens, and a failed-login rate limit.
//
// Two ways to log in exist (wanlb.ui.auth): 'password' checks a crypt(3)
// hash from wanlb.ui.password_hash with VerifyCrypt, 'system' asks rpcd
// over ubus, exactly as LuCI does, with RPCD.Login, which also reports
// what rpcd's ACLs let the user do with wanlb's settings. Either way the
// web server then keeps its own session in a Store and reserves a slot in
// a Limiter before judging any login, per client address (IPv6: per /64).
package auth

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// HashError is the kind of problem VerifyCrypt and CheckHash found in a
// hash. It is a string type so the kinds below can be constants; test for
// them with errors.Is. The wrapping message names what is wrong, never the
// password.
type HashError string

func (e HashError) Error() string { return string(e) }

const (
	// ErrUnsupportedHash means the hash is of a scheme wanlb does not verify.
	ErrUnsupportedHash HashError = "unsupported password hash"
	// ErrMalformedHash means the scheme is known but the hash cannot be parsed.
	ErrMalformedHash HashError = "malformed password hash"
)

// Limits and parameters of SHA-512 crypt, from Ulrich Drepper's
// specification "Unix crypt using SHA-256 and SHA-512"
// (https://www.akkadia.org/drepper/SHA-crypt.txt).
const (
	sha512Prefix       = "$6$"
	roundsPrefix       = "rounds="
	roundsDefault      = 5000      // used, and not written, when the setting names no rounds
	roundsMin          = 1000      // the spec clamps smaller values up to this
	roundsMax          = 999999999 // the spec clamps larger values down to this
	saltMaxLen         = 16        // longer salts are truncated by the spec
	sha512EncodedLen   = 86        // 64 digest bytes in crypt's base64: 21*4 + 2
	cryptAlphabet      = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	generatedSaltChars = 16
)

// MaxPasswordLen bounds every password this package hashes or hands to
// rpcd. SHA-crypt hashes the password len(password) times (step 16 of the
// spec), so its cost grows with the square of the length: without a bound
// one long login request would keep a router's CPU busy.
const MaxPasswordLen = 256

// VerifyCrypt reports whether password matches hash, a crypt(3) string as
// stored in wanlb.ui.password_hash: SHA-512 crypt ("$6$[rounds=N$]salt$hash")
// or bcrypt ("$2a$", "$2b$", "$2y$").
//
// A mismatch is (false, nil). An error means the hash itself is unusable
// (unsupported scheme or malformed), which is a configuration problem, not a
// wrong password. A password longer than MaxPasswordLen is reported as a
// mismatch without hashing it, so it costs nothing and still counts as a
// failed login for the rate limit.
func VerifyCrypt(hash, password string) (bool, error) {
	// Check the hash first, so a broken password_hash is reported whatever
	// the password.
	if err := CheckHash(hash); err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	if strings.HasPrefix(hash, sha512Prefix) {
		return verifySHA512(hash, password)
	}
	return verifyBcrypt(hash, password)
}

// CheckHash reports whether hash is one VerifyCrypt can use, without the
// cost of hashing anything; config validation calls it so a bad
// password_hash is reported when the config is loaded, not at first login.
func CheckHash(hash string) error {
	scheme, err := classify(hash)
	if err != nil {
		return err
	}
	if scheme == schemeSHA512 {
		_, err = parseSHA512(hash)
		return err
	}
	// bcrypt.Cost parses the whole hash (version, cost, salt and length).
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
	}
	return nil
}

// HashSHA512Crypt hashes password with SHA-512 crypt, a random 16-character
// salt and the default 5000 rounds, for `wanlb passwd`. The result verifies
// with VerifyCrypt and with the C library's crypt(3).
func HashSHA512Crypt(password string) (string, error) {
	return hashSHA512Crypt(password, roundsDefault)
}

// hashSHA512Crypt is HashSHA512Crypt with a chosen number of rounds; the
// rounds appear in the result only when they differ from the default, as
// the spec and glibc do.
func hashSHA512Crypt(password string, rounds int) (string, error) {
	if password == "" {
		return "", errors.New("auth: refusing to hash an empty password")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("auth: password longer than %d bytes", MaxPasswordLen)
	}
	if rounds < roundsMin || rounds > roundsMax {
		return "", fmt.Errorf("auth: sha512-crypt rounds %d outside %d..%d", rounds, roundsMin, roundsMax)
	}
	// 256 is a multiple of 64, so masking a random byte picks every
	// alphabet character with the same probability.
	var raw [generatedSaltChars]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("auth: reading random salt: %w", err)
	}
	salt := make([]byte, len(raw))
	for i, b := range raw {
		salt[i] = cryptAlphabet[b&0x3f]
	}
	p := sha512Params{rounds: rounds, explicitRounds: rounds != roundsDefault, salt: string(salt)}
	return p.format(sha512Encode(sha512Digest([]byte(password), salt, rounds))), nil
}

type scheme int

const (
	schemeSHA512 scheme = iota
	schemeBcrypt
)

// classify names the scheme of hash from its prefix. Known but unsupported
// schemes are named in the error so the user learns what to replace.
func classify(hash string) (scheme, error) {
	switch {
	case hash == "":
		return 0, fmt.Errorf("%w: empty", ErrMalformedHash)
	case strings.HasPrefix(hash, sha512Prefix):
		return schemeSHA512, nil
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return schemeBcrypt, nil
	case strings.HasPrefix(hash, "$1$"):
		return 0, fmt.Errorf("%w: $1$ (MD5-crypt); use sha512-crypt ($6$) or bcrypt", ErrUnsupportedHash)
	case strings.HasPrefix(hash, "$5$"):
		return 0, fmt.Errorf("%w: $5$ (SHA-256 crypt); use sha512-crypt ($6$) or bcrypt", ErrUnsupportedHash)
	case strings.HasPrefix(hash, "$2"):
		// $2$ and $2x$ are the old and the bug-compatible bcrypt variants.
		return 0, fmt.Errorf("%w: bcrypt variant other than $2a$/$2b$/$2y$", ErrUnsupportedHash)
	case strings.HasPrefix(hash, "$"):
		id, _, _ := strings.Cut(hash[1:], "$")
		if len(id) > 8 {
			id = id[:8] + "..."
		}
		return 0, fmt.Errorf("%w: scheme $%s$; use sha512-crypt ($6$) or bcrypt", ErrUnsupportedHash, id)
	default:
		// Most likely a plain-text password pasted into password_hash:
		// say so without repeating it.
		return 0, fmt.Errorf("%w: not a crypt(3) string (must start with $6$ or $2b$)", ErrMalformedHash)
	}
}

func verifyBcrypt(hash, password string) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
	}
}

func verifySHA512(hash, password string) (bool, error) {
	p, err := parseSHA512(hash)
	if err != nil {
		return false, err
	}
	got := sha512Encode(sha512Digest([]byte(password), []byte(p.salt), p.rounds))
	// Constant time, so response timing does not tell an attacker how many
	// leading characters of the stored hash a guess reproduced.
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.encoded)) == 1, nil
}

// sha512Params is a parsed "$6$" string.
type sha512Params struct {
	rounds         int
	explicitRounds bool   // "rounds=N$" was written; kept so format reproduces the input
	salt           string // at most saltMaxLen bytes, no '$'
	encoded        string // the 86-character hash, empty in a bare setting
}

// format renders p with the given encoded hash in glibc's layout.
func (p sha512Params) format(encoded string) string {
	var b strings.Builder
	b.WriteString(sha512Prefix)
	if p.explicitRounds {
		b.WriteString(roundsPrefix)
		b.WriteString(strconv.Itoa(p.rounds))
		b.WriteByte('$')
	}
	b.WriteString(p.salt)
	b.WriteByte('$')
	b.WriteString(encoded)
	return b.String()
}

// parseSHA512 parses a stored "$6$" hash strictly: anything crypt(3) would
// never have produced is an error rather than a silent mismatch, so a typo
// in password_hash is reported as such.
func parseSHA512(hash string) (sha512Params, error) {
	rest := strings.TrimPrefix(hash, sha512Prefix)
	p := sha512Params{rounds: roundsDefault}
	if r, ok := strings.CutPrefix(rest, roundsPrefix); ok {
		digits, after, found := strings.Cut(r, "$")
		if !found {
			return p, fmt.Errorf("%w: sha512-crypt: rounds not followed by '$'", ErrMalformedHash)
		}
		n, err := parseRounds(digits)
		if err != nil {
			return p, err
		}
		p.rounds, p.explicitRounds, rest = n, true, after
	}
	salt, encoded, found := strings.Cut(rest, "$")
	switch {
	case !found && salt == "":
		return p, fmt.Errorf("%w: sha512-crypt: no salt", ErrMalformedHash)
	case !found:
		return p, fmt.Errorf("%w: sha512-crypt: no '$' after the salt", ErrMalformedHash)
	case salt == "":
		return p, fmt.Errorf("%w: sha512-crypt: empty salt", ErrMalformedHash)
	case len(salt) > saltMaxLen:
		return p, fmt.Errorf("%w: sha512-crypt: salt longer than %d characters", ErrMalformedHash, saltMaxLen)
	case len(encoded) != sha512EncodedLen:
		return p, fmt.Errorf("%w: sha512-crypt: hash part has %d characters, want %d",
			ErrMalformedHash, len(encoded), sha512EncodedLen)
	}
	for i := 0; i < len(encoded); i++ {
		if strings.IndexByte(cryptAlphabet, encoded[i]) < 0 {
			return p, fmt.Errorf("%w: sha512-crypt: hash part has a character outside crypt's base64 alphabet", ErrMalformedHash)
		}
	}
	// The last character carries only 2 of the digest's bits (the 512th
	// bit falls in the 86th character); an encoder never sets the others.
	if strings.IndexByte(cryptAlphabet, encoded[sha512EncodedLen-1]) >= 4 {
		return p, fmt.Errorf("%w: sha512-crypt: hash part has a last character no encoder produces", ErrMalformedHash)
	}
	p.salt, p.encoded = salt, encoded
	return p, nil
}

// parseRounds accepts the decimal rounds of a stored hash. Values the spec
// would clamp, and leading zeros, are errors: crypt(3) writes the clamped,
// canonical number, so such a hash can never match.
func parseRounds(s string) (int, error) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: sha512-crypt: rounds %q is not a canonical number", ErrMalformedHash, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: sha512-crypt: rounds %q is not a number", ErrMalformedHash, s)
	}
	if n < roundsMin || n > roundsMax {
		return 0, fmt.Errorf("%w: sha512-crypt: rounds %d outside %d..%d", ErrMalformedHash, n, roundsMin, roundsMax)
	}
	return n, nil
}

// sha512CryptSetting is crypt(3) for a "$6$" setting, with the spec's
// lenient handling of the setting: rounds clamped to 1000..999999999, the
// salt cut at 16 characters or the first '$'. Only tests call it, with the
// spec's own vectors, to show the digest below is Drepper's algorithm.
func sha512CryptSetting(password, setting string) (string, error) {
	rest, ok := strings.CutPrefix(setting, sha512Prefix)
	if !ok {
		return "", fmt.Errorf("%w: setting does not start with %s", ErrUnsupportedHash, sha512Prefix)
	}
	p := sha512Params{rounds: roundsDefault}
	if r, ok := strings.CutPrefix(rest, roundsPrefix); ok {
		digits, after, found := strings.Cut(r, "$")
		if n, err := strconv.ParseUint(digits, 10, 64); found && err == nil {
			p.rounds = int(min(max(n, roundsMin), roundsMax))
			p.explicitRounds, rest = true, after
		}
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > saltMaxLen {
		salt = salt[:saltMaxLen]
	}
	p.salt = salt
	return p.format(sha512Encode(sha512Digest([]byte(password), []byte(salt), p.rounds))), nil
}

// sha512Digest is steps 1-21 of the SHA-512 crypt algorithm. The step
// numbers in the comments are the spec's.
func sha512Digest(key, salt []byte, rounds int) [sha512.Size]byte {
	// Steps 4-8: digest B = SHA512(key || salt || key).
	h := sha512.New()
	h.Write(key)
	h.Write(salt)
	h.Write(key)
	b := h.Sum(nil)

	// Steps 1-3, 9-12: digest A.
	h.Reset()
	h.Write(key)
	h.Write(salt)
	// Step 9-10: as many bytes of B as the key is long.
	for n := len(key); n > 0; n -= sha512.Size {
		h.Write(b[:min(n, sha512.Size)])
	}
	// Step 11: for each bit of the key length, lowest first, B for a one
	// and the key for a zero.
	for n := len(key); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(key)
		}
	}
	a := h.Sum(nil)

	// Steps 13-16: P, the key-dependent byte string, as long as the key.
	h.Reset()
	for range len(key) {
		h.Write(key)
	}
	p := repeatTo(h.Sum(nil), len(key))

	// Steps 17-20: S, the salt-dependent byte string, as long as the salt;
	// the salt is hashed 16 + A[0] times.
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := repeatTo(h.Sum(nil), len(salt))

	// Step 21: the rounds.
	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	var out [sha512.Size]byte
	copy(out[:], c)
	return out
}

// repeatTo returns digest repeated and cut to n bytes (steps 16 and 20).
func repeatTo(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, digest[:min(n-len(out), len(digest))]...)
	}
	return out
}

// sha512Encode is step 22e: crypt's base64 of the digest, whose bytes are
// taken in the spec's permuted order, three at a time, little end first.
// Group i (0..20) holds bytes i, i+21 and i+42 rotated by i mod 3; the last
// byte, 63, is encoded alone in two characters.
func sha512Encode(d [sha512.Size]byte) string {
	out := make([]byte, 0, sha512EncodedLen)
	put := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for range n {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	for i := range 21 {
		x, y, z := d[i], d[i+21], d[i+42]
		switch i % 3 {
		case 0:
			put(x, y, z, 4)
		case 1:
			put(y, z, x, 4)
		case 2:
			put(z, x, y, 4)
		}
	}
	put(0, 0, d[63], 2)
	return string(out)
}
