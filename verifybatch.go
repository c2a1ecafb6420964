package keyward

import (
	"context"
	"crypto/sha256"
	"strconv"
)

// MaxVerifyBatch bounds the items of one POST /v1/keys/verify:batch.
const MaxVerifyBatch = 100

// VerifyKeys answers several verify bodies at once (POST
// /v1/keys/verify:batch), in order, each exactly as VerifyKey would —
// including its rate-limit count. The keys the cache does not hold are
// read from the store in one round trip. The caller needs keys:verify; an
// invalid item fails the whole batch (EINVALID naming items[i]).
func (s *Service) VerifyKeys(ctx context.Context, p *Principal, reqs []VerifyRequest) ([]*VerifyResult, error) {
	if !p.Has(PermKeysVerify) {
		return nil, Errorf(EFORBIDDEN, "keys:verify is required")
	}
	if len(reqs) == 0 || len(reqs) > MaxVerifyBatch {
		return nil, Invalid(FieldError{Field: "items", Message: "give 1 to " + strconv.Itoa(MaxVerifyBatch) + " items"})
	}
	for i, req := range reqs {
		if err := checkVerifyRequest(req, "items["+strconv.Itoa(i)+"]."); err != nil {
			return nil, err
		}
	}
	batch, err := s.readAhead(ctx, p.TenantID, reqs)
	if err != nil {
		return nil, err
	}
	out := make([]*VerifyResult, len(reqs))
	for i, req := range reqs {
		if out[i], err = s.verifyKey(ctx, p, req, batch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readAhead reads, in one store call, the keys of the secrets in reqs that
// the cache does not hold, and caches them. The map holds a snapshot (nil:
// no such key) for every hash it looked up.
func (s *Service) readAhead(ctx context.Context, tenantID string, reqs []VerifyRequest) (map[[32]byte]*keySnapshot, error) {
	now := s.now()
	gen := s.cache.gen.Load()
	batch := map[[32]byte]*keySnapshot{}
	var hashes [][]byte
	for _, req := range reqs {
		sec := req.Key
		if req.ClientID != "" {
			sec = req.ClientSecret
		}
		if req.Token != "" {
			continue
		}
		h, ok := lookupHash(tenantID, sec)
		if !ok {
			continue
		}
		if _, seen := batch[h]; seen || s.cache.get(h, now) != nil {
			continue
		}
		batch[h] = nil
		hashes = append(hashes, h[:])
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	keys, err := s.store.GetAPIKeysBySecretHashes(ctx, hashes)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		for _, h := range [][]byte{k.SecretHash, k.PrevSecretHash} {
			if len(h) != sha256.Size {
				continue
			}
			var key [32]byte
			copy(key[:], h)
			if snap, asked := batch[key]; !asked || snap != nil {
				continue
			}
			snap, err := s.snapshot(ctx, k, h, now)
			if err != nil {
				return nil, err
			}
			if snap != nil {
				batch[key] = snap
				s.cache.put(key, snap, gen)
			}
		}
	}
	return batch, nil
}
