package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// accessKeyAlphabet is the alphabet AWS uses after the AKIA prefix.
var accessKeyEncoding = base32.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").WithPadding(base32.NoPadding)

// GenerateAccessKey returns an AWS-shaped key pair: a 20-character id
// starting with AKIA and a 40-character secret, from the given randomness.
func GenerateAccessKey(random io.Reader) (id, secret string, err error) {
	var idBytes [10]byte // 10 bytes -> 16 base32 characters
	if _, err := io.ReadFull(random, idBytes[:]); err != nil {
		return "", "", fmt.Errorf("generate access key id: %w", err)
	}
	var secretBytes [30]byte // 30 bytes -> 40 base64 characters
	if _, err := io.ReadFull(random, secretBytes[:]); err != nil {
		return "", "", fmt.Errorf("generate secret access key: %w", err)
	}
	return "AKIA" + accessKeyEncoding.EncodeToString(idBytes[:]),
		base64.StdEncoding.EncodeToString(secretBytes[:]), nil
}

// ValidAccessKeyID reports whether id has the shape of an access key id;
// anything else is rejected before touching the database.
func ValidAccessKeyID(id string) bool {
	if len(id) < 16 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Sealer encrypts secrets at rest with AES-256-GCM. The additional data
// binds a ciphertext to its owner (the access key id), so a sealed secret
// copied onto another key's row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer builds a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets key: want 32 bytes, have %d", len(key))
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

// Seal returns nonce || ciphertext.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open reverses Seal.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed secret too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// LoadOrCreateKey reads the 32-byte secrets key at path, creating it (mode
// 0600, fsynced) on first use. Losing this file makes stored secrets
// unreadable, so it is never rewritten once it exists.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("secrets key %s: want 32 bytes, have %d", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := WriteFileDurable(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return key, nil
}

// ParseKey reads a 32-byte secrets key given as text: base64 (standard or
// URL alphabet, padded or not) of 32 bytes, surrounding white space
// ignored. Its errors never quote the text.
func ParseKey(text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(t); err == nil {
			if len(key) != 32 {
				return nil, fmt.Errorf("want base64 of 32 bytes, have %d bytes", len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("not base64 (want base64 of 32 random bytes, e.g. from `head -c 32 /dev/urandom | base64`)")
}

// ReadKeyFile reads a secrets key file: the 32 raw bytes of LoadOrCreateKey
// or their base64 text (ParseKey).
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	if len(b) == 32 { // raw; base64 of 32 bytes is 43 or 44 characters
		return b, nil
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	return key, nil
}

// WriteFileDurable creates path exclusively with data and fsyncs it and its
// directory; it fails if the file exists.
func WriteFileDurable(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
