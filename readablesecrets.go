package keyward

import "context"

// ReadableSecrets returns, by key id, the current secret of each of keys
// that the caller may read back: only when the tenant turned on
// PortosReadableSecrets (off by default, SPEC §7 Portos), only for HMAC
// keys (the sealed copy is what is read; plain keys keep only a hash), and
// only for keys the caller covers — it may write the key, its level is at
// least the key's and it holds each of the key's permissions. Every secret
// returned is one audit entry "apikey.secret.read", written before the
// answer leaves. Keys without a readable secret are simply absent.
func (s *Service) ReadableSecrets(ctx context.Context, p *Principal, keys []*APIKey) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	t, err := s.store.GetTenant(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	if !t.PortosReadableSecrets {
		return out, nil
	}
	for _, k := range keys {
		if k.TenantID != p.TenantID || len(k.SecretCiphertext) == 0 || !coversKey(p, k) {
			continue
		}
		sec, err := s.sealer.Open(k.SecretCiphertext, []byte(k.ID))
		if err != nil {
			return nil, err
		}
		out[k.ID] = string(sec)
	}
	if len(out) == 0 {
		return out, nil
	}
	err = s.store.Tx(ctx, func(tx StoreTx) error {
		for id := range out {
			if err := s.audit(ctx, tx, p, "apikey.secret.read", p.TenantID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// coversKey reports whether p covers k as SPEC §3 defines it, for the
// holder of a key's secret: p may write k, p's level is at least k's, and p
// holds every permission k holds.
func coversKey(p *Principal, k *APIKey) bool {
	if !p.canKey(PermAPIKeysWrite, k.OwnerID) || k.Level > p.Level {
		return false
	}
	for _, perm := range k.Permissions {
		if !p.canGrant(perm.Name) {
			return false
		}
	}
	return true
}
