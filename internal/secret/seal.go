package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the size of the master key in bytes (AES-256).
const MasterKeySize = 32

// Sealer encrypts and decrypts small values with AES-256-GCM under a key
// derived from the master key. A sealed value is nonce || ciphertext || tag.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key from master for the given purpose, so
// that one master key serves several independent uses.
func NewSealer(master []byte, purpose string) (*Sealer, error) {
	key, err := DeriveKey(master, purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext, binding it to additional data (e.g. the key id) so
// a ciphertext cannot be moved to another row.
func (s *Sealer) Seal(plaintext, additional []byte) []byte {
	nonce := RandomBytes(s.aead.NonceSize())
	return s.aead.Seal(nonce, nonce, plaintext, additional)
}

// Open decrypts a value made by Seal with the same additional data.
func (s *Sealer) Open(sealed, additional []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("secret: sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], additional)
}

// DeriveKey derives an n-byte key for purpose from the master key (HKDF-SHA256).
func DeriveKey(master []byte, purpose string, n int) ([]byte, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	return hkdf.Key(sha256.New, master, nil, "keyward "+purpose, n)
}

// ParseMasterKey decodes a master key given as 64 hex characters or as
// standard/URL base64 of 32 bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == MasterKeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes written as 64 hex characters or base64")
}

// LoadOrCreateMasterKeyFile reads the master key from path, or creates the
// file (mode 0600, holding 64 hex characters) with a new random key when it
// does not exist. It refuses a file that others can read.
func LoadOrCreateMasterKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, false, err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("master key file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
		}
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s: %w", path, err)
		}
		return key, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	key = RandomBytes(MasterKeySize)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	return key, true, f.Close()
}
