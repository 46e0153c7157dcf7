package auth

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Test vectors from Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512"
// (https://www.akkadia.org/drepper/SHA-crypt.txt), SHA-512 section. The
// last entry is not from the spec: it is glibc/libxcrypt's crypt(3) output
// for the first vector with rounds=5000 written out, which must keep the
// explicit rounds and give the same hash as the implicit default.
var sha512Vectors = []struct {
	name, setting, password, want string
}{
	{
		"default rounds", "$6$saltstring", "Hello world!",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	},
	{
		"rounds=10000, salt truncated", "$6$rounds=10000$saltstringsaltstring", "Hello world!",
		"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
	},
	{
		"rounds=5000 explicit, salt truncated", "$6$rounds=5000$toolongsaltstring", "This is just a test",
		"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
	},
	{
		"rounds=1400, long password", "$6$rounds=1400$anotherlongsaltstring",
		"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
	},
	{
		"rounds=77777, short salt", "$6$rounds=77777$short", "we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
	},
	{
		"rounds=123456, 16-char salt", "$6$rounds=123456$asaltof16chars..", "a short string",
		"$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1",
	},
	{
		"rounds=10 clamped to 1000", "$6$rounds=10$roundstoolow", "the minimum number is still observed",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
	},
	{
		"rounds=5000 explicit (libxcrypt)", "$6$rounds=5000$saltstring", "Hello world!",
		"$6$rounds=5000$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	},
}

func TestSHA512CryptVectors(t *testing.T) {
	for _, v := range sha512Vectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := sha512CryptSetting(v.password, v.setting)
			if err != nil {
				t.Fatalf("sha512CryptSetting: %v", err)
			}
			if got != v.want {
				t.Fatalf("sha512CryptSetting(%q)\n got  %s\n want %s", v.setting, got, v.want)
			}
			ok, err := VerifyCrypt(v.want, v.password)
			if err != nil || !ok {
				t.Fatalf("VerifyCrypt(right password) = %v, %v; want true, nil", ok, err)
			}
			ok, err = VerifyCrypt(v.want, v.password+"x")
			if err != nil || ok {
				t.Fatalf("VerifyCrypt(wrong password) = %v, %v; want false, nil", ok, err)
			}
			if err := CheckHash(v.want); err != nil {
				t.Fatalf("CheckHash: %v", err)
			}
		})
	}
}

func TestVerifyCryptBcrypt(t *testing.T) {
	const password = "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// $2y$ is PHP's and htpasswd's name for the same algorithm as $2b$.
	hash2y := "$2y$" + strings.TrimPrefix(string(hash), "$2a$")
	for _, tc := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"2a right", string(hash), password, true},
		{"2a wrong", string(hash), "Correct horse battery staple", false},
		{"2a empty", string(hash), "", false},
		{"2y right", hash2y, password, true},
		{"2y wrong", hash2y, password + "!", false},
		// Made by libxcrypt's crypt(3), as a router's tools would.
		{"2b from libxcrypt", "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG", password, true},
		{"2b from libxcrypt, wrong", "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG", "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyCrypt(tc.hash, tc.password)
			if err != nil || ok != tc.want {
				t.Fatalf("VerifyCrypt = %v, %v; want %v, nil", ok, err, tc.want)
			}
			if err := CheckHash(tc.hash); err != nil {
				t.Fatalf("CheckHash: %v", err)
			}
		})
	}
}

func TestVerifyCryptRejectsBadHashes(t *testing.T) {
	good := sha512Vectors[0].want
	hashPart := good[strings.LastIndexByte(good, '$')+1:]
	const password = "Hello world!"
	for _, tc := range []struct {
		name, hash string
		want       error
	}{
		{"empty", "", ErrMalformedHash},
		{"plain text", "Hello world!", ErrMalformedHash},
		{"$6$ alone", "$6$", ErrMalformedHash},
		{"$6$ salt without hash", "$6$saltstring", ErrMalformedHash},
		{"$6$ empty salt", "$6$$" + hashPart, ErrMalformedHash},
		{"$6$ salt too long", "$6$saltstringsaltstring$" + hashPart, ErrMalformedHash},
		{"$6$ hash too short", "$6$saltstring$" + hashPart[:85], ErrMalformedHash},
		{"$6$ hash too long", "$6$saltstring$" + hashPart + "a", ErrMalformedHash},
		{"$6$ bad character", "$6$saltstring$" + hashPart[:40] + "*" + hashPart[41:], ErrMalformedHash},
		{"$6$ impossible last character", "$6$saltstring$" + hashPart[:85] + "z", ErrMalformedHash},
		{"$6$ rounds not a number", "$6$rounds=many$saltstring$" + hashPart, ErrMalformedHash},
		{"$6$ rounds empty", "$6$rounds=$saltstring$" + hashPart, ErrMalformedHash},
		{"$6$ rounds below minimum", "$6$rounds=10$saltstring$" + hashPart, ErrMalformedHash},
		{"$6$ rounds above maximum", "$6$rounds=1000000000$saltstring$" + hashPart, ErrMalformedHash},
		{"$6$ rounds leading zero", "$6$rounds=05000$saltstring$" + hashPart, ErrMalformedHash},
		{"$6$ rounds without salt", "$6$rounds=5000", ErrMalformedHash},
		{"$1$ md5", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", ErrUnsupportedHash},
		{"$5$ sha256", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF9T3J", ErrUnsupportedHash},
		{"$2x$ bcrypt", "$2x$04$" + strings.Repeat("a", 53), ErrUnsupportedHash},
		{"$y$ yescrypt", "$y$j9T$salt$hash", ErrUnsupportedHash},
		{"$2b$ truncated", "$2b$04$abc", ErrMalformedHash},
		{"$2b$ bad cost", "$2b$99$" + strings.Repeat("a", 53), ErrMalformedHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyCrypt(tc.hash, password)
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("VerifyCrypt = %v, %v; want false, %v", ok, err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error %q echoes the password", err)
			}
			if err := CheckHash(tc.hash); !errors.Is(err, tc.want) {
				t.Fatalf("CheckHash = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyCryptLongPassword(t *testing.T) {
	hash, err := HashSHA512Crypt(strings.Repeat("p", MaxPasswordLen))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyCrypt(hash, strings.Repeat("p", MaxPasswordLen)); !ok || err != nil {
		t.Fatalf("VerifyCrypt(%d-byte password) = %v, %v; want true, nil", MaxPasswordLen, ok, err)
	}
	// Longer passwords are wrong passwords, refused before hashing.
	if ok, err := VerifyCrypt(hash, strings.Repeat("p", MaxPasswordLen+1)); ok || err != nil {
		t.Fatalf("VerifyCrypt(too long) = %v, %v; want false, nil", ok, err)
	}
	// A malformed hash is reported even then: it is a config problem.
	if _, err := VerifyCrypt("$6$", strings.Repeat("p", MaxPasswordLen+1)); !errors.Is(err, ErrMalformedHash) {
		t.Fatalf("VerifyCrypt(malformed, too long) error = %v; want ErrMalformedHash", err)
	}
}

func TestHashSHA512Crypt(t *testing.T) {
	seen := map[string]bool{}
	for _, password := range []string{"secret", "pässwörd ☃", `'"$(reboot);` + " x", "\x01\x7f"} {
		hash, err := HashSHA512Crypt(password)
		if err != nil {
			t.Fatalf("HashSHA512Crypt: %v", err)
		}
		p, err := parseSHA512(hash)
		if err != nil {
			t.Fatalf("parseSHA512(%q): %v", hash, err)
		}
		// Default rounds are not written, like glibc's crypt_gensalt.
		if p.explicitRounds || p.rounds != roundsDefault || len(p.salt) != generatedSaltChars {
			t.Fatalf("HashSHA512Crypt = %q: want implicit 5000 rounds and a 16-char salt", hash)
		}
		if seen[p.salt] {
			t.Fatalf("salt %q repeated", p.salt)
		}
		seen[p.salt] = true
		if ok, err := VerifyCrypt(hash, password); !ok || err != nil {
			t.Fatalf("VerifyCrypt(own hash) = %v, %v", ok, err)
		}
		if ok, err := VerifyCrypt(hash, password+" "); ok || err != nil {
			t.Fatalf("VerifyCrypt(other password) = %v, %v", ok, err)
		}
		// Same salt, same password: the result is the spec's.
		if again, _ := sha512CryptSetting(password, hash); again != hash {
			t.Fatalf("recomputing %q gave %q", hash, again)
		}
	}

	explicit, err := hashSHA512Crypt("secret", 6000)
	if err != nil || !strings.HasPrefix(explicit, "$6$rounds=6000$") {
		t.Fatalf("hashSHA512Crypt(6000 rounds) = %q, %v; want explicit rounds", explicit, err)
	}
	if ok, err := VerifyCrypt(explicit, "secret"); !ok || err != nil {
		t.Fatalf("VerifyCrypt(6000 rounds) = %v, %v", ok, err)
	}

	for _, bad := range []string{"", strings.Repeat("x", MaxPasswordLen+1)} {
		if h, err := HashSHA512Crypt(bad); err == nil {
			t.Fatalf("HashSHA512Crypt(%d bytes) = %q; want an error", len(bad), h)
		}
	}
}

func TestSHA512Encode(t *testing.T) {
	// Every digest byte must land in the output exactly once: flipping
	// one byte changes the encoding, flipping it back restores it.
	var d [64]byte
	base := sha512Encode(d)
	if len(base) != sha512EncodedLen {
		t.Fatalf("encoded length %d, want %d", len(base), sha512EncodedLen)
	}
	for i := range d {
		d[i] = 0xff
		if sha512Encode(d) == base {
			t.Fatalf("byte %d does not reach the encoding", i)
		}
		d[i] = 0
	}
}
