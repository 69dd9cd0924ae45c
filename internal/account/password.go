package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB, Time (passes) and Threads (lanes).
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultParams follow OWASP's Password Storage Cheat Sheet
// (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id):
// "Use Argon2id with a minimum configuration of 19 MiB of memory, an iteration count of 2, and
// 1 degree of parallelism." A stored hash carries its own parameters, so raising these later
// still verifies old hashes, and a login with the old ones stores the password anew.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Password length bounds, in characters. The minimum is the OWASP Authentication Cheat
// Sheet's (after NIST SP 800-63B) for a password that is the only factor: 15; the maximum
// bounds what a client makes us hash.
const (
	MinPasswordLength = 15
	MaxPasswordLength = 256
)

const (
	saltLen = 16
	keyLen  = 32
)

// ErrWeakPassword is a new password outside the length bounds.
var ErrWeakPassword = fmt.Errorf("password must be %d to %d characters", MinPasswordLength, MaxPasswordLength)

// CheckPassword refuses a new password outside the length bounds.
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLength || n > MaxPasswordLength {
		return ErrWeakPassword
	}
	return nil
}

// HashPassword hashes pw with argon2id under p and a fresh random salt, in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (base64 without padding).
func HashPassword(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64(salt), b64(key)), nil
}

// CheckHash reports whether pw matches the PHC argon2id hash, comparing in constant time,
// and the parameters the hash was made with.
func CheckHash(pw, hash string) (bool, Params, error) {
	p, salt, key, err := decodeHash(hash)
	if err != nil {
		return false, Params{}, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key))) // #nosec G115 -- decodeHash bounds the key to 16-64 bytes
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// maxParams bound what a stored hash may ask for, so a corrupt row cannot make a login
// allocate gigabytes.
var maxParams = Params{Memory: 1 << 20, Time: 16, Threads: 16}

func decodeHash(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errors.New("password hash is not PHC argon2id")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("password hash: argon2 version %q", parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("password hash parameters %q: %w", parts[3], err)
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxParams.Memory || p.Time < 1 || p.Time > maxParams.Time || p.Threads < 1 || p.Threads > maxParams.Threads {
		return Params{}, nil, nil, fmt.Errorf("password hash parameters %q out of bounds", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, errors.New("password hash: bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errors.New("password hash: bad key")
	}
	return p, salt, key, nil
}
